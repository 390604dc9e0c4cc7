"""Same experiment, same seed, same machine → the same bytes: the whole loop run twice into two directories.

The experiment is configs/demo-quick.yaml cut down (tests/fixtures/experiments/repro-tiny.yaml) so that two full runs
(KG paths, llama.cpp teacher, SFT set, one training step, sampled and budget-forced generation, scoring, results
table) stay affordable on a CPU. Times are kept out of every compared file; they live in manifest.json only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENT = Path(__file__).parent / "fixtures" / "experiments" / "repro-tiny.yaml"
# Every output whose bytes the run's numbers depend on; a missing one fails the test as surely as a changed one.
COMPARED = [
    "benchmark/questions.jsonl",
    "paths/paths.jsonl",
    "distill/fs1/traces.jsonl",
    "generate/smollm2-135m__instruct/predictions.jsonl",
    "generate/smollm2-135m__fs1/predictions.jsonl",
    "score/smollm2-135m__instruct/scores.jsonl",
    "score/smollm2-135m__instruct/summary.json",
    "score/smollm2-135m__fs1/scores.jsonl",
    "score/smollm2-135m__fs1/summary.json",
    "results.parquet",
]


def _run(out: Path) -> str:
    """Run the experiment into ``out``; returns what it printed."""
    cmd = [sys.executable, "-m", "fs1.cli.main", "run", str(EXPERIMENT), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=os.environ.copy())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_two_runs_of_the_same_experiment_write_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _run(first)
    console = _run(second)
    differing = [name for name in COMPARED if (first / name).read_bytes() != (second / name).read_bytes()]
    assert differing == []
    # The runs really sampled: the seeds are recorded, and two samples of a question differ in seed.
    rows = [json.loads(line) for line in (first / COMPARED[3]).read_text().splitlines()]
    assert len({(r["id"], r["seed"]) for r in rows}) == len(rows) and all(r["seed"] is not None for r in rows)
    # Each run directory says what made it, times included, in its manifest.
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["started"] <= manifest["ended"]
    assert manifest["seeds"]["run"] == 0 and manifest["inputs"]["experiment"]["sha256"]
    assert manifest["packages"]["torch"] and manifest["hardware"]["threads"]["usable_cpus"] >= 1
    assert '<details id="manifest">' in (first / "report.html").read_text()  # shown, collapsed, in the report
    # A quiet console: fs1's own lines and progress only; the libraries' output is in each stage's log.txt.
    for chatter in ("{'loss'", "Warning", "pin_memory", "Loading weights", "Writing model shards"):
        assert chatter not in console, chatter
    assert "'loss':" in (second / "train" / "smollm2-135m-fs1" / "log.txt").read_text()
    assert len(console.splitlines()) < 60, console
