"""Where a stage's jobs run: one small interface, three engines.

An executor takes the jobs of one wave of the stage graph (stages whose inputs are all done: e.g. every generation
run, each split in shards) and returns when all have ended, with the failures. ``local`` calls each job in this process
(today's behaviour); ``slurm`` submits them through submitit as job arrays (``on_slurm.py``); ``ray`` as Ray tasks
(``on_ray.py``). A cluster job is plain data — a top-level function (``fs1.run.jobs.run_job``) with the run directory,
the stage name and the shard — so it can be read and rerun by hand; it resumes from its own records, so a retried,
requeued or re-run job finishes what is missing and writes nothing twice. Every submission is logged in
``RUNDIR/.jobs/ledger.jsonl`` for ``fs1 status``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fs1.io import JsonlAppender
from fs1.redact import redact_text

LEDGER = Path(".jobs") / "ledger.jsonl"


@dataclass(frozen=True)
class Resources:
    """What one job asks for (resolved: model-size defaults overlaid with the experiment file's settings)."""

    gpus: int = 0
    cpus: int = 1
    mem_gb: int | None = None
    time_min: int = 60
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    sbatch: tuple[str, ...] = ()


@dataclass
class Job:
    """One unit of work: a whole stage (``shard`` None) or one shard of it."""

    stage: str
    fn: Callable[[], None]
    resources: Resources = field(default_factory=Resources)
    shard: int | None = None
    shards: int = 1

    @property
    def label(self) -> str:
        return self.stage if self.shard is None else f"{self.stage}[{self.shard}/{self.shards}]"


@dataclass
class JobFailure:
    job: Job
    job_id: str | None
    error: str


class JobCall:
    """The callable a worker runs: caps the math libraries' threads at the job's CPUs, then runs the job."""

    def __init__(self, fn: Callable[[], None], cpus: int) -> None:
        self.fn = fn
        self.cpus = cpus

    def __call__(self) -> None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(self.cpus)
        if "torch" in sys.modules:  # a reused worker (Ray) may have loaded torch with another thread count
            sys.modules["torch"].set_num_threads(self.cpus)
        self.fn()


class Ledger:
    """Append-only record of submissions and outcomes (``RUNDIR/.jobs/ledger.jsonl``)."""

    def __init__(self, rundir: Path, executor: str) -> None:
        self.path = rundir / LEDGER
        self.executor = executor

    def note(self, job: Job, event: str, job_id: str | None = None, error: str | None = None) -> None:
        row: dict[str, Any] = {
            "time": time.time(),
            "executor": self.executor,
            "stage": job.stage,
            "shard": job.shard,
            "shards": job.shards,
            "event": event,
            "job_id": job_id,
        }
        if error:
            row["error"] = redact_text(error)
        with JsonlAppender(self.path) as sink:
            sink.write(row)


class Executor(Protocol):
    name: str
    remote: bool

    def run(self, jobs: list[Job], ledger: Ledger) -> list[JobFailure]:
        """Run every job to its end (in any order, in parallel where the engine can); return the failures."""
        ...


class LocalExecutor:
    """Every job in this process, one after the other; an exception stops the run as it always did."""

    name = "local"
    remote = False

    @classmethod
    def from_spec(cls, rundir: Path, spec: Any) -> LocalExecutor:
        return cls()

    def run(self, jobs: list[Job], ledger: Ledger) -> list[JobFailure]:
        for job in jobs:
            job.fn()
        return []


def last_error_line(text: str) -> str:
    """The line of a traceback or log that says what went wrong."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Exception" in line:
            return line[:300]
    return lines[-1][:300] if lines else "failed"
