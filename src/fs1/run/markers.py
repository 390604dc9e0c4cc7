"""Stage bookkeeping for resumable runs: each stage directory holds ``.stage.json`` with a fingerprint.

A stage is skipped when it finished with the same fingerprint; resumed (its outputs are append-only) when it started
with the same fingerprint but did not finish; redone from scratch when its fingerprint changed, its earlier outputs
moved aside to ``RUNDIR/.stale/`` (or deleted, ``prune``). A stage's fingerprint covers its own config and its inputs'
fingerprints, so a changed config re-runs exactly what depends on it. A stage directory without the marker is not
fs1's: it is used only when empty, and never deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.errors import InputError
from fs1.io import write_json_atomic
from fs1.redact import redact_obj
from fs1.run.rundir import set_aside

MARKER = ".stage.json"
LOG_NAME = "log.txt"  # a stage's library output (fs1.stage_log)


def fingerprint(config: dict[str, Any]) -> str:
    """A stable hash of a JSON-able config, secrets masked first: a new password reruns nothing, and no hash of
    one is written beside the outputs."""
    blob = json.dumps(redact_obj(config), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class StageResult:
    name: str
    directory: Path
    fingerprint: str
    status: str  # "done" (ran now), "skipped" (already done), "resumed"


def read_marker(directory: Path) -> dict[str, Any] | None:
    """A stage directory's marker (None: no marker, not fs1's); an unreadable one names its file."""
    marker = directory / MARKER
    if not marker.exists():
        return None
    try:
        state = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{marker}: unreadable stage marker ({exc}); remove the stage directory to redo it"
        ) from None
    if not isinstance(state, dict):
        raise InputError(f"{marker}: not a stage marker; remove the stage directory to redo it")
    return state


def open_stage(
    rundir: Path,
    name: str,
    config: dict[str, Any],
    log: Callable[[str], None] = print,
    *,
    prune: bool = False,
) -> StageResult:
    """Decide what a stage needs: "skipped" (finished with this config), else ready to run ("running"/"resuming").

    A stage to run has its directory prepared and a not-done marker written, so a crash from here on resumes it.
    """
    directory = rundir / name
    fp = fingerprint(config)
    state = read_marker(directory)
    if state and state.get("fingerprint") == fp and state.get("done"):
        log(f"[dim]✓ {name}: up to date[/]")
        return StageResult(name, directory, fp, "skipped")
    resumed = bool(state and state.get("fingerprint") == fp)
    if state and not resumed:
        log(f"↻ {name}: configuration changed, redoing")
        tag = str(state.get("fingerprint") or "unknown")
        set_aside(rundir, directory, "configuration changed", prune=prune, tag=tag, log=log)
    elif state is None and directory.is_dir() and any(directory.iterdir()):
        raise InputError(
            f"{directory}: holds files fs1 did not make (no {MARKER}), where the {name} stage writes; fs1 deletes "
            "nothing it did not make: move them elsewhere and run again"
        )
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / MARKER, {"fingerprint": fp, "done": False, "config": config})
    return StageResult(name, directory, fp, "resumed" if resumed else "done")


def close_stage(result: StageResult, config: dict[str, Any]) -> None:
    """Mark a stage finished with the config that made it."""
    write_json_atomic(
        result.directory / MARKER, {"fingerprint": result.fingerprint, "done": True, "config": config}
    )
