"""Memory and time of `fs1 import` on a file of the paper's scale: 1.7M lines of the authors' judge outputs.

The file is what their pipeline ends with (``meta-llama_Llama-3.3-70B-Instruct/outputs.jsonl``): one line per
sample, ``{"request_id": "<ID>-rep-<i>$<model_dir>", "prompt": "gold answer: [...]\\npredicted answer: \\"...\\"\\n\\n
Is the gold ...", "generated_text": "0"|"1"}`` written with ``json.dumps`` defaults, 16 samples per question, several
model folders in one file (the authors judged all their runs in one go). Seeded and built in this script.

Each size is imported by the ``fs1 import`` command in a fresh process; the script reports its wall time and the
peak resident memory of that process (``ru_maxrss`` of the child). Memory should follow the largest run, not the
file: lines are streamed to their run's outputs, and summaries read one run's files back at a time.

    python benchmarks/bench_import.py                               # 1.7M lines (5 runs) and 340K (1 run)
    python benchmarks/bench_import.py --lines 170000 --runs 1
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = 16
TAIL = "Is the gold answer entity or value contained in the predicted answer? Respond only with 0 (no) or 1 (yes)."
WORDS = ["Paris", "Mark Twain", "1989", "Lyon", "Samuel Clemens", "New York City", "Berlin", "Zürich", "1990"]


def write_files(folder: Path, lines: int, runs: int, seed: int = 0) -> tuple[Path, Path]:
    """A benchmark of lines / (runs x 16) questions and one judge-outputs file of ``lines`` lines over ``runs``."""
    rng = random.Random(seed)
    questions = lines // (runs * SAMPLES)
    bench = folder / "bench.jsonl"
    golds = []
    with bench.open("w", encoding="utf-8") as fh:
        for i in range(questions):
            gold = [rng.choice(WORDS)]
            golds.append(gold)
            row = {"ID": f"SimpleQA_{i}", "question": f"Question {i}?", "main_answers": gold,
                   "answer_aliases": [], "source_of_data": "SimpleQA"}  # fmt: skip
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    path = folder / "meta-llama_Llama-3.3-70B-Instruct" / "outputs.jsonl"
    path.parent.mkdir()
    with path.open("w", encoding="utf-8") as fh:
        for run in range(runs):
            for i in range(questions):
                for rep in range(SAMPLES):
                    answer = rng.choice(WORDS) + (" " + "and more words" * rng.randrange(4))
                    prompt = f"gold answer: {json.dumps(golds[i])}\npredicted answer: {json.dumps(answer)}\n\n{TAIL}"
                    row = {"request_id": f"SimpleQA_{i}-rep-{rep}$Model-{run}-16", "prompt": prompt,
                           "generated_text": rng.choice("01")}  # fmt: skip
                    fh.write(json.dumps(row) + "\n")
    return bench, path


def import_once(bench: Path, path: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one ``fs1 import`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "fs1.cli.main", "import", str(path), "-b", str(bench), "--out", str(out)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024  # Linux: KiB


def measure(lines: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="fs1-bench-import-") as tmp:
        bench, path = write_files(Path(tmp), lines, runs)
        size = path.stat().st_size / 2**20
        wall, cpu, rss = import_once(bench, path, Path(tmp) / "out")
        counted = sum(1 for _ in path.open("rb"))
        print(
            f"{counted:,} lines ({size:,.0f} MiB, {runs} runs of {counted // runs:,}): fs1 import {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU, peak RSS {rss:,.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=None, help="Lines of one file (default: 1.7M and 340K).")
    parser.add_argument("--runs", type=int, default=5, help="Model folders in the file.")
    args = parser.parse_args()
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}, load {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    sizes = [(args.lines, args.runs)] if args.lines else [(1_700_000, 5), (340_000, 1)]
    for lines, runs in sizes:
        measure(lines, runs)


if __name__ == "__main__":
    main()
