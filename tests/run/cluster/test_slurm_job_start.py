"""A Slurm job's fixed costs that are fs1's: what its process imports to unpickle the job, and how soon its end is
seen (no cluster needed: the cluster tests are in tests/run/cluster/test_run.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fs1.run.cluster import on_slurm


def test_a_job_process_unpickles_its_call_without_the_run_configuration_models() -> None:
    # What submitit's job process imports to unpickle a RequeueableCall: not on_slurm and its pydantic models.
    code = (
        "import pickle, sys\n"
        "from fs1.run.cluster.on_slurm import RequeueableCall\n"
        "blob = pickle.dumps(RequeueableCall(print, 1))\n"
        "for name in [m for m in sys.modules if m.startswith('fs1')]: del sys.modules[name]\n"
        "pickle.loads(blob)\n"
        "print(sorted(m for m in sys.modules if m.startswith('fs1.run')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # noqa: S307 (our own list of module names)
    assert "fs1.run.cluster.slurm_call" in loaded
    assert "fs1.run.config" not in loaded and "fs1.run.cluster.on_slurm" not in loaded


class _Handle:
    """A submitit job handle that is done at its ``done_after``-th look."""

    def __init__(self, done_after: int) -> None:
        self.looks, self.done_after = 0, done_after

    def done(self) -> bool:
        self.looks += 1
        return self.looks >= self.done_after


def test_a_jobs_end_is_looked_for_often_at_first_then_at_most_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(on_slurm.time, "sleep", sleep)
    monkeypatch.setattr(on_slurm.time, "monotonic", lambda: clock[0])
    handle = _Handle(done_after=400)
    on_slurm.wait_until_done(handle, started=1000.0)
    assert handle.looks == 400 and len(naps) == 399
    assert naps[0] == pytest.approx(0.05)  # a short job's end is seen within 50 ms
    assert naps == sorted(naps) and max(naps) == pytest.approx(1.0)  # then less often, never above 1 s
    # Never late by more than 2 % of the time waited (or 50 ms): a job of a minute is seen within 1.2 s of its end.
    waited = 0.0
    for nap in naps:
        assert nap <= max(0.05, 0.02 * waited) + 1e-9
        waited += nap


def test_a_finished_job_is_not_waited_for() -> None:
    handle = _Handle(done_after=1)
    on_slurm.wait_until_done(handle, started=0.0)
    assert handle.looks == 1
