"""The Slurm executor: submitit job arrays, one per group of jobs with the same resources.

A job is ``Checkpointable``: on preemption or timeout submitit requeues it with the same callable, which resumes from
the records its shard has already written. Job states come from ``sacct`` as submitit asks; on clusters without
accounting storage (``sacct`` disabled) they come from ``scontrol show job`` instead. Resources are fitted to the
partition before submission, and a job pending for a reason that never clears stops the wave (``slurm_limits``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import submitit
from submitit.slurm.slurm import SlurmInfoWatcher

from fs1.errors import ConfigError
from fs1.run.cluster.executors import Job, JobFailure, Ledger, Resources, last_error_line
from fs1.run.cluster.slurm_call import RequeueableCall
from fs1.run.cluster.slurm_limits import (
    ROUTINE,
    PartitionLimits,
    explicit_fields,
    fit_resources,
    never_clears,
    pending_reasons,
    read_limits,
)
from fs1.run.config import SlurmSpec, sbatch_option


class ScontrolFallbackWatcher(SlurmInfoWatcher):
    """submitit's sacct watcher, reading ``scontrol show job`` where the cluster keeps no accounting."""

    def update(self) -> None:
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        done = subprocess.run(command, capture_output=True)
        if done.returncode == 0:
            self._info_dict.update(self.read_info(done.stdout))
        else:
            self._info_dict.update(
                scontrol_states({j.split("_")[0] for j in self._registered - self._finished})
            )
        self._last_status_check = time.time()


def _task_ids(text: str) -> list[str]:
    """Array task ids from scontrol's ``ArrayTaskId`` field: ``3``, ``0-4``, ``1,3-5%2``."""
    out: list[str] = []
    for part in text.split("%")[0].split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            out += [str(i) for i in range(int(lo), int(hi) + 1)]
        elif part:
            out.append(part)
    return out


def scontrol_states(job_ids: set[str]) -> dict[str, dict[str, str]]:
    """``{job or job_task: {"State": ...}}`` for the given (array) job ids; a job Slurm forgot is ``LOST``."""
    states: dict[str, dict[str, str]] = {}
    for job_id in job_ids:
        done = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
        if done.returncode != 0:
            states[job_id] = {"State": "LOST"}
            continue
        for line in done.stdout.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            state = fields.get("JobState", "UNKNOWN")
            if fields.get("ArrayJobId") and fields.get("ArrayTaskId"):
                for task in _task_ids(fields["ArrayTaskId"]):
                    states[f"{fields['ArrayJobId']}_{task}"] = {"State": state}
            elif fields.get("JobId"):
                states[fields["JobId"]] = {"State": state}
    return states


def sbatch_parameters(res: Resources, spec: SlurmSpec, name: str) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters for one resource group."""
    params: dict[str, Any] = {
        "job_name": name,
        "time": res.time_min,
        "cpus_per_task": res.cpus,
        "setup": list(spec.setup),
        "additional_parameters": extra_sbatch(res.sbatch),
    }
    if res.gpus:
        params["gpus_per_node"] = res.gpus
    if res.mem_gb:
        params["mem"] = f"{res.mem_gb}G"
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(res, key):
            params[key] = getattr(res, key)
    if spec.max_parallel:
        params["array_parallelism"] = spec.max_parallel
    return params


def extra_sbatch(lines: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["--exclusive", "--gres=gpu:4", "--nice 10"]`` → submitit's ``additional_parameters``; a line that is no
    long option is a one-line ``ConfigError``."""
    out: dict[str, Any] = {}
    for line in lines:
        try:
            key, value = sbatch_option(line)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        out[key] = value
    return out


# How often a job's end is looked for: submitit's own wait looks once a second, which a short job (a test, a small
# shard) pays at its end; fs1 looks as often as every ``_FIRST_LOOK_S`` at first, then less and less often, never
# losing more than ``_LATE_SHARE`` of the time waited so far or ``_LAST_LOOK_S``. A look is a stat() of the job's
# result file; Slurm itself is asked no more often than ``SlurmSpec.poll_s`` (the watcher's delay).
_FIRST_LOOK_S, _LATE_SHARE, _LAST_LOOK_S = 0.05, 0.02, 1.0


def look_interval(waited: float) -> float:
    """Seconds until the next look for a job's end, ``waited`` seconds after the jobs were submitted."""
    return min(_LAST_LOOK_S, max(_FIRST_LOOK_S, waited * _LATE_SHARE))


def wait_until_done(handle: Any, started: float) -> None:
    """Return once submitit's ``handle`` is done (its result file written, or Slurm says it ended)."""
    while not handle.done():
        time.sleep(look_interval(time.monotonic() - started))


class SlurmExecutor:
    name = "slurm"
    remote = True

    def __init__(self, rundir: Path, spec: SlurmSpec, requested: dict[str, Any] | None = None) -> None:
        self.folder = Path(spec.folder) if spec.folder else rundir / ".jobs" / "slurm"
        self.spec = spec
        self.watcher = ScontrolFallbackWatcher(delay_s=spec.poll_s)
        self.requested = requested or {}  # the experiment file's executor.resources: what the user set
        self._limits: dict[str | None, PartitionLimits | None] = {}
        self._said: set[str] = set()

    def fitted(self, job: Job) -> Resources:
        """The job's resources within its partition's limits (read once per partition)."""
        partition = job.resources.partition
        if partition not in self._limits:
            self._limits[partition] = read_limits(partition)
        limits = self._limits[partition]
        if limits is None:
            return job.resources
        kind = job.stage.split("/")[0]
        res, note = fit_resources(job.resources, limits, explicit_fields(self.requested, kind), kind)
        self._say(note)
        return res

    def _say(self, note: str | None) -> None:
        if note and note not in self._said:
            self._said.add(note)
            print(note, file=sys.stderr, flush=True)

    @classmethod
    def from_spec(cls, rundir: Path, spec: Any) -> SlurmExecutor:
        return cls(rundir, spec.slurm, spec.resources)

    def submit(self, jobs: list[Job], ledger: Ledger) -> tuple[list[tuple[Job, Any]], list[JobFailure]]:
        """One array per resource group; returns each job with its submitit handle, and the jobs sbatch refused.
        Every job is fitted to its partition first: a request no node can satisfy submits nothing."""
        groups: dict[Resources, list[Job]] = defaultdict(list)
        for job in jobs:
            groups[self.fitted(job)].append(job)
        submitted, refused = [], []
        for res, group in groups.items():
            executor = submitit.SlurmExecutor(folder=self.folder, python=sys.executable)
            stage_kind = group[0].stage.split("/")[0]
            executor.update_parameters(**sbatch_parameters(res, self.spec, f"fs1-{stage_kind}"))
            try:
                handles = executor.submit_array([RequeueableCall(job.fn, res.cpus) for job in group])
            except submitit.core.utils.FailedJobError as exc:  # sbatch said no: bad partition, no cluster, …
                error = f"sbatch refused the job: {last_error_line(str(exc))}"
                for job in group:
                    ledger.note(job, "failed", None, error)
                    refused.append(JobFailure(job, None, error))
                continue
            for job, handle in zip(group, handles, strict=True):
                handle.watcher = self.watcher
                ledger.note(job, "submitted", handle.job_id)
                submitted.append((job, handle))
        return submitted, refused

    def run(self, jobs: list[Job], ledger: Ledger) -> list[JobFailure]:
        submitted, failures = self.submit(jobs, ledger)
        try:
            return self._wait(submitted, failures, ledger)
        except KeyboardInterrupt:
            # Ctrl-C: take the jobs down too, so a re-run never has two jobs appending to one shard.
            for job, handle in submitted:
                if not handle.done():
                    handle.cancel(check=False)
                    ledger.note(job, "failed", handle.job_id, "cancelled: fs1 run was interrupted")
            raise

    def _watch(self, submitted: list[tuple[Job, Any]], ledger: Ledger, started: float) -> dict[str, str]:
        """Until every job has ended (looked for as ``wait_until_done`` does): pending reasons go to the ledger
        (unusual ones to the console too), asked of Slurm every second at first, then less often, up to ``poll_s``; a
        reason that never clears cancels the jobs still waiting. Returns those jobs' ids with why they were stopped."""
        seen: dict[str, str] = {}
        pause, ask_at = 1.0, started
        while waiting := [(job, handle) for job, handle in submitted if not handle.done()]:
            now = time.monotonic()
            if now < ask_at:
                time.sleep(look_interval(now - started))
                continue
            ask_at, pause = now + pause, min(2 * pause, float(self.spec.poll_s))
            reasons = pending_reasons(handle.job_id for _, handle in waiting)
            for job, handle in waiting:
                reason = reasons.get(handle.job_id)
                if reason in (None, "None") or seen.get(handle.job_id) == reason:  # "None": not scheduled yet
                    continue
                seen[handle.job_id] = reason
                ledger.note(job, "pending", handle.job_id, reason=reason)
                meaning = never_clears(reason)
                if meaning:
                    return self._stop(waiting, f"{job.label} (Slurm job {handle.job_id}) cannot start: {reason}: "
                                      f"{meaning}")  # fmt: skip
                if reason not in ROUTINE:
                    self._say(f"note: {job.label} (Slurm job {handle.job_id}) is pending: {reason}")
        return {}

    def _stop(self, waiting: list[tuple[Job, Any]], error: str) -> dict[str, str]:
        for _, handle in waiting:
            handle.cancel(check=False)
        return {handle.job_id: error for _, handle in waiting}

    def _wait(
        self, submitted: list[tuple[Job, Any]], failures: list[JobFailure], ledger: Ledger
    ) -> list[JobFailure]:
        started = time.monotonic()
        stopped = self._watch(submitted, ledger, started)
        for job, handle in submitted:
            if handle.job_id in stopped:
                ledger.note(job, "failed", handle.job_id, stopped[handle.job_id])
                failures.append(JobFailure(job, handle.job_id, stopped[handle.job_id]))
                continue
            wait_until_done(handle, started)  # at once: _watch waited until every job had ended
            try:
                handle.result()
            # FailedJobError (the job's traceback inside) or UncompletedJobError (cancelled, lost, out of requeues)
            except Exception as exc:
                error = last_error_line(str(exc))
                ledger.note(job, "failed", handle.job_id, error)
                failures.append(JobFailure(job, handle.job_id, error))
            else:
                ledger.note(job, "finished", handle.job_id)
        return failures
