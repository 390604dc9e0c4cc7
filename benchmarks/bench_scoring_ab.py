"""Benchmark P3, before/after: ``fs1 score`` from two source trees and the authors' loop, interleaved on kept files.

A change to the scoring path is measured against the code before it on the same files in the same session: each round
runs the authors' loop (``bench_scoring.time_reference_loop``), then ``fs1 score --workers N`` from the baseline tree,
then from this checkout (each a fresh process, as a user runs it), so that a change of load on a shared box hits all
three alike. Each line gives wall and CPU seconds (all processes) and the ratio to the loop of its round; at the end
the two trees' ``scores.jsonl`` and ``summary.json`` are compared byte for byte.

    git worktree add /tmp/before <commit>        # the baseline tree (or any checkout of it)
    python benchmarks/bench_scoring.py --cli --n-predictions 1700000 --keep DIR   # once, to write the files
    python benchmarks/bench_scoring_ab.py DIR --baseline /tmp/before --rounds 2
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench_scoring import time_reference_loop
from fs1.vocab import DEFAULT_KS

OUTPUTS = ("scores.jsonl", "summary.json")


def time_score(source: Path, directory: Path, out: Path, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds (all processes) of ``fs1 score`` run from the tree ``source`` on the files in
    ``directory``."""
    command = [sys.executable, "-m", "fs1.cli.main", "score", str(directory / "predictions.jsonl")]
    command += ["--benchmark", str(directory / "bench.jsonl"), "--out", str(out), "--workers", str(workers)]
    command += ["--k", ",".join(map(str, DEFAULT_KS))]
    env = {**os.environ, "PYTHONPATH": str(source / "src")}  # that tree's fs1, not the installed one
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=directory)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="files kept by bench_scoring.py --cli --keep DIR")
    parser.add_argument(
        "--baseline", type=Path, required=True, help="a checkout of the code before the change"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    trees = {"before": args.baseline.resolve(), "after": Path(__file__).resolve().parent.parent}
    print(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), f"load average {os.getloadavg()[0]:.2f}")
    for round_number in range(1, args.rounds + 1):
        loop, loop_cpu, accuracy = time_reference_loop(
            args.directory / "predictions.jsonl", args.directory / "bench.jsonl"
        )
        print(
            f"round {round_number}: authors' loop {loop:.2f} s [CPU {loop_cpu:.2f} s], accuracy {accuracy:.3f}"
        )
        for name, tree in trees.items():
            wall, cpu = time_score(tree, args.directory, args.directory / f"out_{name}", args.workers)
            print(
                f"  fs1 score {name}: {wall:.2f} s [CPU, all processes {cpu:.2f} s] -> {wall / loop:.2f}x the loop"
            )
    same = all(
        (args.directory / "out_before" / name).read_bytes()
        == (args.directory / "out_after" / name).read_bytes()
        for name in OUTPUTS
    )
    print(time.strftime("%H:%M:%S UTC", time.gmtime()), f"load average {os.getloadavg()[0]:.2f}")
    print(f"{' and '.join(OUTPUTS)} of before and after byte-identical: {same}")


if __name__ == "__main__":
    main()
