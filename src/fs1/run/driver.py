"""The one driver of a ``Stage`` (``fs1.stage``): the command line (``fs1 paths|generate|distill``), ``fs1 run`` and
the cluster jobs all run a stage through these functions.

``run_part`` runs one part of a stage — every question, or shard ``I`` of ``N`` (a contiguous slice) — into the
output or its shard file, resuming what is there, with the library output in a log and, when asked, the provenance in
a side manifest; a shard that ran to its end gets its ``.done`` marker. ``merge`` checks that the shards hold every
expected key exactly once, records of the stage's type, and writes the merged output and the stage's joined side files.
``remove_parts`` removes the shard files once the caller has recorded the merge as done, so an interrupted merge can
always be redone from the shards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError, InputError
from fs1.records import Question
from fs1.shards import done_path, mark_done, merge_shards, remove_shard_files, shard_path, shard_slice
from fs1.stage import Stage
from fs1.stage_log import side_log_path, stage_log


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, like ``SLURM_ARRAY_TASK_ID``)."""

    index: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def file(self, out: Path) -> Path:
        """The file this shard of the output ``out`` is written to."""
        return shard_path(out, self.index, self.count)


def part_file(out: Path, shard: Shard | None) -> Path:
    """The file one part writes: the output itself, or its shard file."""
    return out if shard is None else shard.file(out)


@dataclass
class Recording:
    """Where a part's library output goes (``log``; ``None``: the terminal) and, for a standalone command, its side
    manifest with the seed and inputs it records (``manifest``; ``None``: no manifest, e.g. a stage of ``fs1 run``,
    whose run has one). ``beside``: the directory where a whole stage of ``fs1 run`` keeps what made its records
    (the stage's ``Described.file``, e.g. ``engine.json``); ``None``: the manifests say it."""

    log: Path | None = None
    manifest: Path | None = None
    seed: int | None = None  # the run seed it records (None: the stage draws nothing at random)
    inputs: dict[str, Any] | None = None
    verbose: bool = False
    beside: Path | None = None


def side_recording(written: Path, *, seed: int | None, inputs: dict[str, Any], verbose: bool) -> Recording:
    """A standalone command's recording beside the file it writes: ``OUT.manifest.json`` and ``OUT.log.txt`` (a
    shard records beside its own file, as shards of one output may run at the same time)."""
    from fs1.manifest import side_manifest_path

    check_output(written)
    return Recording(side_log_path(written), side_manifest_path(written), seed, inputs, verbose)


def check_output(out: Path) -> None:
    """An output is a file: ``--out ""`` (an unset shell variable) is the current directory, not a file to write."""
    if out.is_dir():
        raise InputError(f"{out}: is a directory, expected the output file (a .jsonl path)")


@contextlib.contextmanager
def _recorded(recording: Recording) -> Iterator[dict[str, Any]]:
    """The part's log and side manifest around its run; yields the manifest (a throwaway dict without one)."""
    from fs1.manifest import recording as manifest_recording

    with contextlib.ExitStack() as stack:
        manifest: dict[str, Any] = {}
        if recording.manifest is not None:
            seeds = {"run": recording.seed}
            manifest = stack.enter_context(
                manifest_recording(recording.manifest, seeds=seeds, inputs=recording.inputs)
            )
        stack.enter_context(stage_log(recording.log, verbose=recording.verbose))
        yield manifest


def run_part(
    stage: Stage[Any],
    settings: Any,
    questions: list[Question],
    out: Path,
    shard: Shard | None = None,
    *,
    resume: bool,
    recording: Recording | None = None,
) -> Any:
    """Run ``stage`` on ``questions`` (shard ``shard`` of them, or all) into ``out`` (or its shard file); returns
    the stage's summary of the part. A shard gets its ``.done`` marker once its slice has run to the end."""
    if shard is not None and not stage.shardable:
        raise ConfigError(f"the {stage.name} stage runs as one job; it has no shards")
    written = part_file(out, shard)
    check_output(written)
    todo = questions if shard is None else shard_slice(questions, shard.index, shard.count)
    if shard is not None:
        done_path(written).unlink(missing_ok=True)  # about to change: not done until this run ends
    recording = recording or Recording()
    with _recorded(recording) as manifest:
        summary = stage.run(todo, settings, written, resume)
        if stage.manifest is not None:
            manifest.update(stage.manifest(summary))
        _record_described(stage, summary, manifest, recording.beside)
    if shard is not None:
        mark_done(written)
    return summary


def _record_described(stage: Stage[Any], summary: Any, manifest: dict[str, Any], beside: Path | None) -> None:
    """What made the part's records (``Stage.described``): into its manifest, and beside a whole stage's records."""
    if stage.described is None:
        return
    facts = stage.described.facts(summary)
    if not facts:
        return
    manifest[stage.described.entry] = facts
    if beside is not None:
        from fs1.io import write_json_atomic

        write_json_atomic(beside / stage.described.file, facts)


def merge(
    stage: Stage[Any], settings: Any, questions: list[Question], out: Path, count: int
) -> tuple[int, Any]:
    """Merge the ``count`` shards of ``out`` into ``out`` (every expected key once, each line a record of the
    stage's type; else ``InputError`` naming file and line), then the shards' side files; returns the number of
    records and the stage's summary of the whole (``after_merge``). The shard files stay (``remove_parts``)."""
    if stage.expected is None:
        raise ConfigError(f"the {stage.name} stage has no shards to merge")
    excused: set[Any] = set()
    for index in range(count):
        excused |= stage.excused(shard_path(out, index, count))
    expected = stage.expected(questions, settings)
    records = merge_shards(
        out, count, expected, stage.key, remove_parts=False, excused=excused, record=stage.record
    )
    summary = stage.after_merge(out, count) if stage.after_merge is not None else None
    return records, summary


def remove_parts(stage: Stage[Any], out: Path, count: int) -> None:
    """Remove the merged shards' files, side files included."""
    remove_shard_files(out, count, stage.side_files)
