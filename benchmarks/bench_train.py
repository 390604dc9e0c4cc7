"""P6: `fs1 train` throughput on CPU for the embedded model: padded batches vs padding-free vs packing.

Trains the same examples (synthetic traces of mixed lengths, like real ones) through ``fs1.train.train`` three ways:
``padded`` (each batch right-padded to its longest row), ``padding_free`` (each batch concatenated into one row,
sequence boundaries kept by position ids) and ``packing`` (best-fit-decreasing packing into ``--block`` tokens,
padding-free too). Tokens/s counts real (non-padding) tokens, after the first optimizer step (warm-up excluded), via
TRL's ``num_tokens`` metric. Prints each figure and the ratios to ``padded``. The CPU may be shared: run the modes
interleaved (``--repeats``) and read the ratios, not the absolute figures.

    .venv/bin/python benchmarks/bench_train.py                        # smollm2-135m, 3 modes x 4 steps
    .venv/bin/python benchmarks/bench_train.py --model /path/to/tiny --steps 6 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fs1.train import TrainConfig, train
from fs1.train.timing import StepTimer

MODES = {"padded": {}, "padding_free": {"padding_free": True}, "packing": {"packing": True}}
WORDS = [
    "river",
    "city",
    "capital",
    "founded",
    "king",
    "war",
    "treaty",
    "born",
    "author",
    "film",
    "island",
    "language",
    "team",
    "won",
    "located",
]


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="student (path or short name)")
    ap.add_argument("--rows", type=int, default=32, help="synthetic traces")
    ap.add_argument("--min-words", type=int, default=10, help="shortest reasoning trace (words)")
    ap.add_argument("--max-words", type=int, default=120, help="longest reasoning trace (words)")
    ap.add_argument(
        "--batch", type=int, default=4, help="sequences per step (per-device batch, no accumulation)"
    )
    ap.add_argument("--block", type=int, default=512, help="packing block length (tokens)")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps per mode (the first is warm-up)")
    ap.add_argument("--repeats", type=int, default=1, help="rounds over the modes, interleaved")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    return ap.parse_args()


def _write_data(path: Path, rows: int, min_words: int, max_words: int) -> None:
    """Traces in build-sft's columns with lengths spread evenly between the bounds (what makes padding cost)."""
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            n = rng.randint(min_words, max_words)
            row = {
                "id": f"b{i}",
                "question": f"Question {i}: which {rng.choice(WORDS)} is it?",
                "reasoning_trace": " ".join(rng.choice(WORDS) for _ in range(n)),
                "model_attempt": f"\\boxed{{{rng.choice(WORDS)}}}",
                "label": 1,
                "valid": 1,
            }
            fh.write(json.dumps(row) + "\n")


def _run(args: argparse.Namespace, data: Path, work: Path, mode: str) -> dict[str, float]:
    timer = StepTimer()
    cfg = TrainConfig(
        data=str(data),
        model=args.model,
        out=str(work / mode),
        max_steps=args.steps,
        effective_batch=args.batch,
        per_device_batch=args.batch,
        max_length=args.block,
        learning_rate=1e-5,
        logging_steps=1,
        save_steps=10_000,
        overwrite=True,
        **MODES[mode],
    )
    started = time.perf_counter()
    train(cfg, callbacks=[timer])
    t = timer.timing
    return {"tokens_per_s": t.tokens_per_second, "steps_per_s": t.steps_per_second,
            "wall_s": time.perf_counter() - started}  # fmt: skip


def main() -> int:
    args = _parse()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="fs1-bench-train-") as tmp:
        work = Path(tmp)
        data = work / "traces.jsonl"
        _write_data(data, args.rows, args.min_words, args.max_words)
        results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            for mode in MODES:
                results[mode].append(_run(args, data, work, mode))
    print(f"\nP6 fs1 train, {args.model}, CPU x{args.threads} threads, batch {args.batch}, {args.steps} steps "
          f"(first excluded), {args.rows} traces of {args.min_words}-{args.max_words} words")  # fmt: skip
    base = statistics.median(r["tokens_per_s"] for r in results["padded"])
    for mode, runs in results.items():
        tps = statistics.median(r["tokens_per_s"] for r in runs)
        print(f"  {mode:13s} {tps:8.1f} tokens/s  ({tps / base:.2f}x padded)  "
              f"steps/s {statistics.median(r['steps_per_s'] for r in runs):.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
