"""The Ray executor: one Ray core task per job on an existing cluster (or a local one with ``address: local``).

Ray retries a task whose worker process or node died (``max_retries``); the retried job resumes from the records
it had already written. A job that raises is not retried: its error is reported and a re-run resumes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.run.cluster.executors import Job, JobCall, JobFailure, Ledger, last_error_line
from fs1.run.config import RaySpec


def _run_job(call: JobCall) -> None:
    call()


class RayExecutor:
    name = "ray"
    remote = True

    def __init__(self, spec: RaySpec) -> None:
        self.spec = spec

    @classmethod
    def from_spec(cls, rundir: Path, spec: Any) -> RayExecutor:
        return cls(spec.ray)

    def connect(self) -> None:
        import ray

        if not ray.is_initialized():
            # "local" always starts a private cluster; "auto" and addresses join an existing one.
            ray.init(address=self.spec.address, log_to_driver=True, configure_logging=False)

    def run(self, jobs: list[Job], ledger: Ledger) -> list[JobFailure]:
        import ray

        self.connect()
        task = ray.remote(_run_job)
        refs = []
        for job in jobs:
            ref = task.options(
                num_cpus=job.resources.cpus,
                num_gpus=job.resources.gpus,
                max_retries=self.spec.max_retries,
                retry_exceptions=False,
                name=job.label,
            ).remote(JobCall(job.fn, job.resources.cpus))
            ledger.note(job, "submitted", ref.task_id().hex())
            refs.append((job, ref))
        try:
            return self._wait(refs, ledger)
        except KeyboardInterrupt:
            # Ctrl-C: take the tasks down too (no two writers on one shard after a re-run).
            for job, ref in refs:
                ray.cancel(ref, force=True)
                ledger.note(job, "failed", ref.task_id().hex(), "cancelled: fs1 run was interrupted")
            raise

    def _wait(self, refs: list, ledger: Ledger) -> list[JobFailure]:  # noqa: ANN001
        import ray

        failures = []
        for job, ref in refs:
            try:
                ray.get(ref)
            except ray.exceptions.RayError as exc:
                error = last_error_line(str(exc))
                ledger.note(job, "failed", ref.task_id().hex(), error)
                failures.append(JobFailure(job, ref.task_id().hex(), error))
            else:
                ledger.note(job, "finished", ref.task_id().hex())
        return failures
