"""``fs1 status RUNDIR``: every stage and shard a run has reached — done, running, pending or failed — from the files
the run writes (stage markers, shard ``.done`` and ``.running`` sidecars, ``.jobs/ledger.jsonl``); no engine is asked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fs1.io import InputError, read_jsonl_rows
from fs1.run.cluster.executors import LEDGER
from fs1.run.markers import MARKER, read_marker
from fs1.run.pipeline import ATTEMPTS
from fs1.shards import RUNNING, SHARD_RE, done_path


def declared_outputs() -> dict[str, str]:
    """Each stage family's output file, from the stages' own declarations (``fs1.stage.Stage``)."""
    from fs1.distill.stage import DISTILL
    from fs1.generate.stage import GENERATE
    from fs1.judge.stage import JUDGE
    from fs1.kg.stage import PATHS
    from fs1.scoring.stage import SCORE

    outputs = {stage.name: stage.output for stage in (PATHS, DISTILL, GENERATE, SCORE, JUDGE)}
    return outputs | {"benchmark": "questions.jsonl"}


@dataclass
class StatusRow:
    stage: str
    shard: str
    state: str  # done | running | pending | failed
    records: int | None
    job_id: str | None
    error: str | None
    attempts: int = 0  # processes that started this job (a retry or requeue adds one)
    reason: str | None = None  # why a pending job waits, as the engine said (Slurm: Priority, Resources, ...)


def _lines(path: Path) -> int | None:
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.endswith(b"\n"))


def _ledger(rundir: Path) -> dict[tuple[str, int | None], dict]:
    """The last ledger event of each (stage, shard)."""
    path = rundir / LEDGER
    last: dict[tuple[str, int | None], dict] = {}
    if path.exists():
        for lineno, row in read_jsonl_rows(path):
            stage, event, shard = row.get("stage"), row.get("event"), row.get("shard")
            if not (
                isinstance(stage, str) and isinstance(event, str) and (shard is None or type(shard) is int)
            ):
                raise InputError(
                    f"{path}:{lineno}: expected a job event: a stage and an event (text), a shard (a number or none)"
                )
            last[(stage, shard)] = row
    return last


def _state(done: bool, running: bool, event: dict | None) -> str:
    if done:
        return "done"
    if event and event["event"] == "failed":
        return "failed"
    if running:
        return "running"
    return "pending"


def run_status(rundir: Path) -> list[StatusRow]:
    """One row per stage (and per shard of a sharded stage), in the order the stages were reached."""
    if not rundir.is_dir():
        raise InputError(f"{rundir}: no such run directory")
    ledger = _ledger(rundir)
    outputs = declared_outputs()
    markers = [m for m in rundir.glob(f"**/{MARKER}") if not m.relative_to(rundir).parts[0].startswith(".")]
    markers.sort(key=lambda p: p.stat().st_mtime)  # stale outputs set aside in RUNDIR/.stale are no stages
    rows = []
    for marker in markers:
        directory = marker.parent
        stage = directory.relative_to(rundir).as_posix()
        done = bool((read_marker(directory) or {}).get("done"))  # a damaged marker: one line naming it
        declared = directory / outputs.get(stage.split("/")[0], "-")
        output = declared if declared.exists() else None
        tries = _attempts(directory)
        shards = _shards(directory, stage, ledger)
        if shards and not done:
            for (index, count), part in sorted(shards.items()):
                event = ledger.get((stage, index))
                running = part.with_name(part.name + RUNNING).exists()
                state = _state(done_path(part).exists(), running, event)
                label = f"{index}/{count}"
                attempts = tries.get(part.name, 0)
                rows.append(
                    StatusRow(stage, label, state, _lines(part), _job(event), _error(event, state), attempts,
                              _reason(event, state))
                )  # fmt: skip
            continue
        event = ledger.get((stage, None)) or next(
            (e for (s, _), e in reversed(ledger.items()) if s == stage), None
        )
        running = (directory / RUNNING).exists() or bool(event and event["event"] == "submitted")
        state = _state(done, running, event)
        records = _lines(output) if output else None
        attempts = tries.get(directory.name, 0)
        rows.append(
            StatusRow(
                stage, "", state, records, _job(event), _error(event, state), attempts, _reason(event, state)
            )
        )
    return rows


def _shards(
    directory: Path, stage: str, ledger: dict[tuple[str, int | None], dict]
) -> dict[tuple[int, int], Path]:
    """(shard, count) → shard file, from the files present and the jobs submitted (not all have started)."""
    found: dict[tuple[int, int], Path] = {}
    for part in directory.iterdir():
        match = SHARD_RE.match(part.name)
        if match:
            found[(int(match["i"]), int(match["n"]))] = part
    for (name, shard), event in ledger.items():
        if name == stage and shard is not None:
            key = (shard, event["shards"])
            stem = declared_outputs().get(stage.split("/")[0], "predictions.jsonl").removesuffix(".jsonl")
            found.setdefault(key, directory / f"{stem}.shard-{shard}-of-{event['shards']}.jsonl")
    return found


def _attempts(directory: Path) -> dict[str, int]:
    """Started processes per job name, from the stage's ``.attempts.jsonl``."""
    path = directory / ATTEMPTS
    if not path.exists():
        return {}
    return dict(Counter(row["job"] for _, row in read_jsonl_rows(path)))


def _job(event: dict | None) -> str | None:
    return event.get("job_id") if event else None


def _error(event: dict | None, state: str) -> str | None:
    return event.get("error") if event and state == "failed" else None


def _reason(event: dict | None, state: str) -> str | None:
    return event.get("reason") if event and state == "pending" else None
