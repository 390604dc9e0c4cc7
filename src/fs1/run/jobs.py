"""One job of a run: the whole of a stage, or one shard of it.

``run_piece`` is the work itself (the sidecars ``fs1 status`` reads, the log, then the driver). A cluster job is plain
data — ``run_job(rundir, stage, shard, shards)``, a top-level function with plain arguments that rebuilds the stage from
``RUNDIR/experiment.yaml`` on the worker — so it can be read in the submission, and rerun by hand as
``fs1 run RUNDIR/experiment.yaml --out RUNDIR --only STAGE --shard I/N``, which does the same.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from fs1.errors import ConfigError
from fs1.io import JsonlAppender, write_json_atomic
from fs1.redact import register_secrets_in
from fs1.run.driver import Recording, Shard, run_part
from fs1.run.markers import LOG_NAME
from fs1.run.stages import Part
from fs1.shards import RUNNING, shard_path
from fs1.stage_log import side_log_path, stage_log

ATTEMPTS = ".attempts.jsonl"
EXPERIMENT_COPY = "experiment.yaml"
JOBS_DIR = "jobs"  # in a stage's directory: one manifest per job that wrote part of it


def job_manifest_path(directory: Path, written: Path | None) -> Path:
    """Where a job of the stage in ``directory`` records how it was made (host, hardware, packages, command,
    seed): ``jobs/<file it wrote>.manifest.json`` (``jobs/stage.manifest.json`` for a stage run as one body).
    Kept after the merge: the shards of one output may have run on different nodes and software."""
    return directory / JOBS_DIR / f"{written.stem if written is not None else 'stage'}.manifest.json"


def note_running(directory: Path, job: str, sidecar: Path) -> None:
    """Which process works on a job: a sidecar file (for ``fs1 status`` and people chasing a stuck job) and a
    line in the stage's ``.attempts.jsonl`` (a retried or requeued job shows as a second attempt)."""
    import os
    import socket
    import time

    row = {"job": job, "pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    write_json_atomic(sidecar, row)
    with JsonlAppender(directory / ATTEMPTS, shared=True) as sink:  # shards of a stage append at once
        sink.write(row)


def run_piece(
    part: Part,
    directory: Path,
    shard: Shard | None,
    verbose: bool,
    sidecars: bool = True,
    seed: int | None = None,
    experiment: Path | None = None,
) -> None:
    """One job's work on a stage of a run: the whole stage or one shard of it. ``sidecars``: note the process
    for ``fs1 status`` and record the job's own manifest (every job does; a stage run inline by ``fs1 run``
    itself does not: the run's manifest describes it). ``seed`` and ``experiment``: what that manifest records."""
    out = directory / part.stage.output if part.stage is not None else directory
    written = out if shard is None else shard.file(out)
    if sidecars:
        sidecar = directory / RUNNING if shard is None else written.with_name(written.name + RUNNING)
        note_running(directory, directory.name if shard is None else written.name, sidecar)
    # each shard its own log: shards of one stage may run at the same time on different nodes
    log = directory / LOG_NAME if shard is None else side_log_path(written)
    if part.stage is None:
        if shard is not None:
            raise ConfigError(f"the {directory.name} stage runs as one job; it has no shards")
        assert part.body is not None
        with contextlib.ExitStack() as stack:
            if sidecars:
                stack.enter_context(_job_recording(directory, None, seed, experiment))
            stack.enter_context(stage_log(log, verbose=verbose))
            part.body(directory)
        return
    if part.before is not None:
        part.before(directory)
    assert part.questions is not None
    # a whole stage keeps what made its records beside them (a shard's job manifest says it for its part)
    recording = Recording(log=log, verbose=verbose, beside=directory if shard is None else None)
    if sidecars:
        recording.manifest = job_manifest_path(directory, written)
        recording.seed, recording.inputs = seed, {"experiment": experiment}
    run_part(part.stage, part.settings, part.questions(), out, shard, resume=True, recording=recording)


def _job_recording(
    directory: Path, written: Path | None, seed: int | None, experiment: Path | None
) -> contextlib.AbstractContextManager[dict]:
    from fs1.manifest import recording

    return recording(
        job_manifest_path(directory, written), seeds={"run": seed}, inputs={"experiment": experiment}
    )


def fold_shard_logs(out: Path, count: int, log: Path) -> None:
    """Append each shard's log to the stage's ``log.txt``, in shard order, and remove it: a merged stage keeps no
    shard files."""
    for index in range(count):
        part_log = side_log_path(shard_path(out, index, count))
        if part_log.exists():
            with log.open("a", encoding="utf-8") as sink:
                sink.write(f"--- shard {index} of {count} ---\n")
                sink.write(part_log.read_text(encoding="utf-8", errors="replace"))
            part_log.unlink()


def mask_job_output() -> None:
    """A job's own stdout and stderr (Slurm's job log, a Ray worker's log) pass through fs1.redact as the CLI's do:
    whatever a library prints is masked, including every secret registered so far or later."""
    import sys

    from fs1.redact import RedactingStream

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


def experiment_digest(path: Path) -> str:
    """The SHA-256 of an experiment file: a job checks it is the experiment its driver submitted it for."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_job(
    rundir: str,
    stage: str,
    shard: int | None = None,
    shards: int = 1,
    verbose: bool = False,
    experiment: str = "",
    digest: str = "",
) -> None:
    """A cluster job of a run: stage ``stage`` (shard ``shard`` of ``shards``; None: the whole stage) of the run in
    ``rundir``, rebuilt there from the experiment — ``RUNDIR/experiment.yaml``, or ``experiment`` where that copy
    has secrets masked. ``digest``: that file's SHA-256 when the job was submitted (empty: not checked); a job whose
    experiment was replaced since stops rather than mix two."""
    from fs1.run.pipeline import Pipeline, part_for

    root = Path(rundir)
    source = Path(experiment) if experiment else root / EXPERIMENT_COPY
    if digest and experiment_digest(source) != digest:
        raise ConfigError(f"{source} changed since this job was submitted; run `fs1 run` again")
    mask_job_output()  # before the experiment is read: what loading it prints is masked too
    pipe = Pipeline.for_job(root, source, verbose=verbose)
    register_secrets_in(pipe.exp.model_dump(mode="json"))  # its secrets, literal or expanded from ${VAR} here
    part = part_for(pipe, stage)
    job_shard = None if shard is None else Shard(shard, shards)
    run_piece(part, root / stage, job_shard, verbose, seed=pipe.exp.seed, experiment=source)
