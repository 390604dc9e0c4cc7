"""Crash safety: `fs1 generate` killed with SIGKILL mid-run and resumed ends with every record exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.io import read_records
from fs1.records import Prediction
from tests.support.cli import runner

QUESTIONS, SAMPLES, BUDGETS = 8, 2, (4, 8)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_sigkill_then_resume_gives_each_record_once(tiny_model_dir, tmp_path):  # noqa: ANN001
    out = tmp_path / "pred.jsonl"
    args = ["generate", "--benchmark", "sample", "--limit", str(QUESTIONS), "--model", str(tiny_model_dir)]
    args += ["--setting", "reasoning", "--n", str(SAMPLES), "--budgets", ",".join(map(str, BUDGETS))]
    args += ["--answer-max-tokens", "3", "--batch", "2", "--threads", "1", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fs1.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        # Kill once some, but not all, records are on disk.
        while _lines(out) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, (
            f"finished before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    total = QUESTIONS * SAMPLES * len(BUDGETS)
    assert 5 <= _lines(out) < total
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    keys = [(p.id, p.sample, p.budget) for p in read_records(out, Prediction)]
    assert len(keys) == len(set(keys)) == total
