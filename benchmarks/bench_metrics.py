"""Benchmark: the cost of the summary's new numbers (issue 16) on synthetic verdicts at a chosen scale.

Builds per-sample verdicts directly (no text scoring): questions over six sources and three hop counts, 16 samples
each, a per-question accuracy p ~ Beta(1, 1), wrong answers spread over a few distinct strings, and about 8 %
refusals. Times ``aggregate`` three ways in one process, so the ratios are measured under the same load:

- baseline: accuracy, pass@k and the other per-unit means only (the all-subsets vote and the intervals switched off);
- + all-subsets maj@k and factuality@k (``fs1.scoring.selection``);
- + 95 % bootstrap intervals over questions, overall and per source (``fs1.scoring.intervals``).

    python benchmarks/bench_metrics.py --questions 20000

``--serial DIR`` times instead the serial part of ``fs1 score`` on the files of ``bench_scoring.py --cli --keep DIR``
(issue 30): ``load_questions`` of ``DIR/bench.jsonl`` and ``aggregate`` of the verdicts of ``DIR/predictions.jsonl``
(scored once, with 2 workers, and kept in ``DIR/verdicts.pickle`` as plain arrays). With ``--baseline TREE`` each
round runs both parts in a fresh process from the baseline tree, then from this checkout (interleaved, so a change of
load hits both alike), and checks that the questions (``to_dict()`` of each) and the summary are the same bytes.
``--profile`` prints where each part's time goes (``cProfile``, this checkout).

    python benchmarks/bench_metrics.py --serial DIR --baseline /tmp/before --rounds 3
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import hashlib
import json
import os
import pickle
import pstats
import subprocess
import sys
import time
from array import array
from pathlib import Path
from unittest import mock

import numpy as np

from fs1.records import Question
from fs1.scoring import selection, summary
from fs1.scoring.summary import VerdictColumns, aggregate
from fs1.vocab import DEFAULT_KS

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


_ARRAYS = ("refusals", "unit", "sample", "correct", "exact", "f1", "answer")


def kept_verdicts(directory: Path) -> VerdictColumns:
    """The verdicts of ``directory/predictions.jsonl``, scored once and kept as plain values (any tree reads them)."""
    kept = directory / "verdicts.pickle"
    if not kept.is_file():
        from fs1.data import load_questions, question_index
        from fs1.scoring.workers import score_ranges

        questions = question_index(load_questions(directory / "bench.jsonl"))
        columns = VerdictColumns()
        for result in score_ranges(directory / "predictions.jsonl", questions, 2):
            columns.extend(result.columns)
        plain = {name: getattr(columns, name).tobytes() for name in _ARRAYS}
        plain |= {"unit_keys": list(columns.unit_keys), "answer_ids": list(columns.answer_ids)}
        kept.write_bytes(pickle.dumps(plain | {"attempted_given": columns.attempted_given}))
    plain = pickle.loads(kept.read_bytes())
    columns = VerdictColumns(
        unit_keys={key: i for i, key in enumerate(plain["unit_keys"])},
        answer_ids={key: i for i, key in enumerate(plain["answer_ids"])},
        attempted_given=plain["attempted_given"],
    )
    for name in _ARRAYS:
        column = array(getattr(columns, name).typecode)
        column.frombytes(plain[name])
        setattr(columns, name, column)
    return columns


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def serial_once(directory: Path, profile: bool) -> dict:
    """Time ``load_questions`` and ``aggregate`` once in this process; digests of what they returned."""
    from fs1.data import load_questions, question_index

    columns = kept_verdicts(directory)
    profiler = cProfile.Profile() if profile else None
    start = _clock()
    if profiler:
        profiler.enable()
    loaded = load_questions(directory / "bench.jsonl")
    if profiler:
        profiler.disable()
    load = _since(start)
    questions = question_index(loaded)
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(14)
        profiler = cProfile.Profile()
    start = _clock()
    if profiler:
        profiler.enable()
    result = aggregate(columns, questions, DEFAULT_KS)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(14)
    summary = _since(start)
    rows = json.dumps([q.to_dict() for q in loaded], ensure_ascii=False).encode()
    text = json.dumps(result, indent=2, ensure_ascii=False).encode()
    return {
        "load": load,
        "aggregate": summary,
        "questions": hashlib.sha256(rows).hexdigest()[:16],
        "summary": hashlib.sha256(text).hexdigest()[:16],
    }


def run_serial(directory: Path, baseline: Path | None, rounds: int) -> None:
    """``--serial``: rounds of fresh processes, baseline tree then this checkout (module docstring)."""
    here = Path(__file__).resolve().parent
    trees = (
        {"after": here.parent} if baseline is None else {"before": baseline.resolve(), "after": here.parent}
    )
    kept_verdicts(directory)  # (scored once, outside the timings)
    print(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), f"load average {os.getloadavg()}")
    digests: dict[str, set] = {"questions": set(), "summary": set()}
    for round_number in range(1, rounds + 1):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{here}"}
            command = [sys.executable, str(Path(__file__).resolve()), "--serial", str(directory), "--once"]
            out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
            found = json.loads(out.splitlines()[-1])
            (load, load_cpu), (agg, agg_cpu) = found["load"], found["aggregate"]
            print(
                f"round {round_number} {name:<6}: load_questions {load:.2f} s [CPU {load_cpu:.2f}], aggregate "
                f"{agg:.2f} s [CPU {agg_cpu:.2f}] | questions {found['questions']}, summary {found['summary']}"
            )
            for key in digests:
                digests[key].add(found[key])
    print(time.strftime("%H:%M:%S UTC", time.gmtime()), f"load average {os.getloadavg()}")
    print("questions and summary the same bytes in every run:", all(len(d) == 1 for d in digests.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20_000)
    parser.add_argument(
        "--serial", type=Path, help="time load_questions and aggregate on the files kept here"
    )
    parser.add_argument("--baseline", type=Path, help="with --serial: a checkout of the code before a change")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="with --serial: where the time goes")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serial and (args.once or args.profile):
        print(json.dumps(serial_once(args.serial, args.profile)))
        return
    if args.serial:
        run_serial(args.serial, args.baseline, args.rounds)
        return
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
