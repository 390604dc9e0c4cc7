"""Benchmark: the cost of the summary's new numbers (issue 16) on synthetic verdicts at a chosen scale.

Builds per-sample verdicts directly (no text scoring): questions over six sources and three hop counts, 16 samples
each, a per-question accuracy p ~ Beta(1, 1), wrong answers spread over a few distinct strings, and about 8 %
refusals. Times ``aggregate`` three ways in one process, so the ratios are measured under the same load:

- baseline: accuracy, pass@k and the other per-unit means only (the all-subsets vote and the intervals switched off);
- + all-subsets maj@k and factuality@k (``fs1.scoring.selection``);
- + 95 % bootstrap intervals over questions, overall and per source (``fs1.scoring.intervals``).

    python benchmarks/bench_metrics.py --questions 20000
"""

from __future__ import annotations

import argparse
import datetime
import time
from unittest import mock

import numpy as np

from fs1.records import Question
from fs1.scoring import selection, summary
from fs1.scoring.summary import VerdictColumns, aggregate

SOURCES = ("cwq", "exaqt", "grailqa", "simpleqa", "mintaka", "webqsp")
SAMPLES = 16


def build(n_questions: int, seed: int = 0) -> tuple[VerdictColumns, dict[str, Question]]:
    rng = np.random.default_rng(seed)
    questions = {
        f"q{i}": Question(
            ID=f"q{i}", question="?", main_answers=["a"], source_of_data=SOURCES[i % 6], hops=1 + i % 3
        )
        for i in range(n_questions)
    }
    columns = VerdictColumns()
    for i in range(n_questions):
        p = rng.random()
        wrong = rng.integers(1, 6)
        for s in range(SAMPLES):
            r = rng.random()
            key = "a" if r < p else ("i dont know" if r < p + 0.08 else f"b{rng.integers(0, wrong)}")
            columns.add_verdict(f"q{i}", None, s, key == "a", key == "a", float(key == "a"), key)
    return columns, questions


def _no_vote(groups: tuple, n: int, k: int, seed: int = 0) -> selection.SelectionEstimate:
    return selection.SelectionEstimate(0.0, 0.0)


def timed(label: str, run: callable) -> float:
    selection._select_cached.cache_clear()
    selection._count_vectors.cache_clear()
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.2f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20_000)
    args = parser.parse_args()
    columns, questions = build(args.questions)
    print(f"{datetime.date.today()}: {args.questions} questions x {SAMPLES} samples, ks 1,2,4,8,16")
    with mock.patch.object(summary, "select_at_k", _no_vote):
        base = timed(
            "baseline (no vote, no intervals)", lambda: aggregate(columns, questions, None, intervals=False)
        )
    vote = timed(
        "+ all-subsets maj@k / factuality@k", lambda: aggregate(columns, questions, None, intervals=False)
    )
    full = timed("+ bootstrap intervals (overall, per source)", lambda: aggregate(columns, questions, None))
    print(f"ratio vote / baseline {vote / base:.1f}x; full / baseline {full / base:.1f}x")
    print(f"per 1M predictions: full aggregate {full * 1e6 / (args.questions * SAMPLES):.1f} s")


if __name__ == "__main__":
    main()
