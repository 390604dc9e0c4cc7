"""Distillation and SFT export throughput: the concurrency bound against a teacher with latency, fs1's own overhead
per trace, build-sft rows/s, and the embedding leakage check's questions/s.

1. ``fs1.distill.run_distillation`` against the teacher replay server (real HTTP on 127.0.0.1, the real ``openai``
   backend) that answers after ``--latency`` seconds, at concurrency 1 and higher: traces/s and the speed-up, which
   shows the bound keeps requests in flight (the ideal ratio is the concurrency). With latency 0 the figure is fs1's
   own cost per trace (HTTP, parsing, labelling, one fsynced append).
2. ``build_sft_dataset`` on synthetic traces (1-4 KB reasoning) with the SmolLM2 tokenizer: rows/s.
3. ``find_leaks(embedding=True)`` (all-MiniLM-L6-v2, CPU): questions/s, when ``fs1[embed]`` is installed.

    python benchmarks/bench_distill.py                      # about a minute on a 2-core box
    python benchmarks/bench_distill.py --questions 256 --latency 0.2 --concurrency 1,8,32
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support (the replay server) lives beside src/

from tests.support.teacher_replay import TeacherTurn, replay_server  # noqa: E402

from fs1.backends import load_backend  # noqa: E402
from fs1.distill.leakage import embedding_available, find_leaks  # noqa: E402
from fs1.distill.runner import DistillConfig, run_distillation  # noqa: E402
from fs1.distill.sft import build_sft_dataset  # noqa: E402
from fs1.records import Question, Trace  # noqa: E402

WORDS = [
    "the",
    "of",
    "team",
    "city",
    "river",
    "year",
    "won",
    "born",
    "capital",
    "album",
    "film",
    "election",
    "river",
    "mountain",
    "novel",
]


def questions(n: int) -> list[Question]:
    return [Question(ID=f"q{i}", question=f"Question number {i}: which {WORDS[i % len(WORDS)]}?",
                     main_answers=[f"answer {i}"]) for i in range(n)]  # fmt: skip


def bench_concurrency(n: int, latency: float, levels: list[int]) -> None:
    turn = TeacherTurn("Let me recall the facts. " * 40, "So the answer is \\boxed{answer 1}.")
    qs = questions(n)
    base = None
    for level in levels:
        server, replay = replay_server({"Question number": turn})
        replay.latency_s = latency
        with server, tempfile.TemporaryDirectory() as tmp:
            backend = load_backend("openai", "replay-teacher", base_url=server.base_url, concurrency=level)
            config = DistillConfig(teacher="replay-teacher", concurrency=level)
            start = time.perf_counter()
            summary = run_distillation(
                qs, config, Path(tmp) / "t.jsonl", backend=backend, show_progress=False
            )
            elapsed = time.perf_counter() - start
        rate = summary.written / elapsed
        base = base or rate
        print(f"distill  latency {latency * 1000:.0f} ms  concurrency {level:>3}: {summary.written} traces in "
              f"{elapsed:.2f} s = {rate:.1f} traces/s  (x{rate / base:.2f} vs concurrency {levels[0]})")  # fmt: skip


def bench_export(n: int, student: str) -> None:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(n):
                reasoning = " ".join(rng.choice(WORDS) for _ in range(rng.randint(150, 700)))
                trace = Trace(id=f"q{i}", question=f"Question {i}?", mode="fs1", model="bench", sample=0,
                              reasoning_trace=reasoning, model_attempt=f"\\boxed{{answer {i % 3}}}",
                              gold_answer=["answer 0"], kg_path="a, b, c")  # fmt: skip
                fh.write(json.dumps(trace.to_dict()) + "\n")
        start = time.perf_counter()
        stats = build_sft_dataset([path], student, Path(tmp) / "sft", show_progress=False)
        elapsed = time.perf_counter() - start
    print(f"build-sft {n} traces ({student} tokenizer): {elapsed:.2f} s = {n / elapsed:.0f} rows/s "
          f"({stats.kept} kept)")  # fmt: skip


def bench_leakage(n_train: int, n_bench: int) -> None:
    if not embedding_available():
        print("leakage  skipped: pip install 'fs1[embed]'")
        return
    rng = random.Random(1)
    make = lambda i: " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))) + f" {i}?"  # noqa: E731
    train = [(f"t{i}", make(i)) for i in range(n_train)]
    bench = [Question(ID=f"b{i}", question=make(i), main_answers=["x"]) for i in range(n_bench)]
    start = time.perf_counter()
    leaks = find_leaks(train, bench, embedding=True)
    elapsed = time.perf_counter() - start
    total = n_train + n_bench
    print(f"leakage  embedding check {n_train} x {n_bench} questions: {elapsed:.1f} s = {total / elapsed:.0f} "
          f"questions/s ({len(leaks)} flagged)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1, help="teacher reply latency, seconds")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--traces", type=int, default=2000, help="traces for the build-sft figure")
    parser.add_argument("--student", default="smollm2-135m")
    parser.add_argument("--leak-train", type=int, default=500)
    parser.add_argument("--leak-bench", type=int, default=1500)
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    bench_concurrency(args.questions, 0.0, [levels[0]])
    bench_concurrency(args.questions, args.latency, levels)
    bench_export(args.traces, args.student)
    bench_leakage(args.leak_train, args.leak_bench)


if __name__ == "__main__":
    main()
