"""Stage bookkeeping for resumable runs: each stage directory holds ``.stage.json`` with a fingerprint.

A stage is skipped when it finished with the same fingerprint; resumed (its outputs are append-only) when it started
with the same fingerprint but did not finish; redone from scratch when its fingerprint changed. A stage's fingerprint
covers its own config and its inputs' fingerprints, so a changed config re-runs exactly what depends on it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.io import write_json_atomic
from fs1.redact import redact_obj
from fs1.stage_log import stage_log

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


def open_stage(
    rundir: Path, name: str, config: dict[str, Any], log: Callable[[str], None] = print
) -> StageResult:
    """Decide what a stage needs: "skipped" (finished with this config), else ready to run ("running"/"resuming").

    A stage to run has its directory prepared and a not-done marker written, so a crash from here on resumes it.
    """
    directory = rundir / name
    fp = fingerprint(config)
    marker = directory / MARKER
    state = json.loads(marker.read_text()) if marker.exists() else None
    if state and state.get("fingerprint") == fp and state.get("done"):
        log(f"[dim]✓ {name}: up to date[/]")
        return StageResult(name, directory, fp, "skipped")
    resumed = bool(state and state.get("fingerprint") == fp)
    if state and not resumed:
        log(f"↻ {name}: configuration changed, redoing")
        shutil.rmtree(directory)
    elif directory.exists() and not state:
        # Left over from an interrupted start before the marker was written: nothing in it can be trusted.
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, {"fingerprint": fp, "done": False, "config": config})
    return StageResult(name, directory, fp, "resumed" if resumed else "done")


def close_stage(result: StageResult, config: dict[str, Any]) -> None:
    """Mark a stage finished with the config that made it."""
    write_json_atomic(
        result.directory / MARKER, {"fingerprint": result.fingerprint, "done": True, "config": config}
    )


def run_stage(
    rundir: Path,
    name: str,
    config: dict[str, Any],
    work: Callable[[Path], None],
    log: Callable[[str], None] = print,
    verbose: bool = False,
) -> StageResult:
    """Run ``work(stage_dir)`` unless the stage already finished with this config.

    Library output of the work goes to ``stage_dir/log.txt`` (also to the terminal when ``verbose``)."""
    result = open_stage(rundir, name, config, log)
    if result.status == "skipped":
        return result
    log(f"▶ {name}: {'resuming' if result.status == 'resumed' else 'running'}")
    with stage_log(result.directory / LOG_NAME, verbose=verbose):
        work(result.directory)
    close_stage(result, config)
    return result
