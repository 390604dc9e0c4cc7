"""Sharded distillation: shard ``I`` of ``N`` distils a contiguous slice of the questions into
``TRACES.shard-I-of-N.jsonl`` (resumable like any output of ``run_distillation``); the merge puts every
(question, sample) into ``TRACES.jsonl`` once, joins the shards' error files and writes the merged summary.

A unit's seed depends on (run seed, question, sample) only, so merged shards hold the traces one process would have
written, in the same order. A unit that failed after the backend's retries is in its shard's errors file and not in
its traces (the unsharded run leaves it out the same way): the merge accepts it missing, and only it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from fs1.distill.config import DistillConfig, DistillSummary
from fs1.distill.runner import count_file, side_path
from fs1.distill.teacher import teacher_prompt
from fs1.io import InputError, atomic_open, completed_keys, write_json_atomic
from fs1.records import PathRecord, Question
from fs1.run.shards import merge_shards, shard_path

SIDE_SUFFIXES = (".errors.jsonl", ".summary.json")
SUMMED = ("planned", "already_done", "written", "failed", "skipped_no_path", "flagged_no_path")


def trace_key(row: dict[str, Any]) -> tuple[str, int]:
    """The unit a trace answers: (question ID, sample); the key resume skips and the merge checks."""
    return str(row["id"]), int(row.get("sample", 0))


def planned_keys(
    questions: list[Question], config: DistillConfig, paths: dict[str, PathRecord] | None
) -> set[Hashable]:
    """Every unit the run asks the teacher for (fs1 questions without a path are left out under ``no_path: skip``)."""
    keys: set[Hashable] = set()
    for question in questions:
        if teacher_prompt(question, config.mode, paths, config.no_path) is not None:
            keys.update((question.ID, sample) for sample in range(config.samples))
    return keys


def expected_keys(
    out: Path,
    count: int,
    questions: list[Question],
    config: DistillConfig,
    paths: dict[str, PathRecord] | None,
) -> set[Hashable]:
    """The keys the merged file must hold: the planned units less those that failed and were never written."""
    failed: set[Hashable] = set()
    written: set[Hashable] = set()
    for index in range(count):
        part = shard_path(out, index, count)
        written |= completed_keys(part, trace_key)  # cuts a torn tail first, as the merge would
        failed |= completed_keys(side_path(part, ".errors.jsonl"), trace_key)
    return planned_keys(questions, config, paths) - (failed - written)


def merge_distill_shards(
    out: Path,
    count: int,
    questions: list[Question],
    config: DistillConfig,
    paths: dict[str, PathRecord] | None,
    *,
    remove_parts: bool = True,
) -> DistillSummary:
    """Merge the ``count`` shards of ``out`` (every expected key once, else ``InputError`` naming file and line),
    then the shards' error files and summaries; returns the merged summary, also written to ``OUT.summary.json``."""
    expected = expected_keys(out, count, questions, config, paths)
    merge_shards(out, count, expected, trace_key, remove_parts=remove_parts)
    return finish_distill_merge(out, count, remove_parts=remove_parts)


def finish_distill_merge(out: Path, count: int, *, remove_parts: bool = True) -> DistillSummary:
    """After the traces are merged: join the shards' errors files into ``OUT.errors.jsonl`` and their summaries into
    ``OUT.summary.json`` (counts and tokens summed, wall time of the slowest shard, file counts of the merged file)."""
    parts = [shard_path(out, index, count) for index in range(count)]
    read = [_read_summary(side_path(p, ".summary.json")) for p in parts]
    summaries = [s for s in read if s is not None]
    if not summaries:
        raise InputError(f"{out.parent}: no shard summary ({side_path(parts[0], '.summary.json').name}, …)")
    first = summaries[0]
    merged = DistillSummary(teacher=first["teacher"], mode=first["mode"], backend=first["backend"])
    for name in SUMMED:
        setattr(merged, name, sum(int(s.get(name) or 0) for s in summaries))
    for s in summaries:
        usage = s.get("usage") or {}
        for name in ("requests", "tokens_in", "tokens_out", "missing_in"):
            setattr(merged.usage, name, getattr(merged.usage, name) + int(usage.get(name) or 0))
    costs = [s["cost"] for s in summaries if s.get("cost") is not None]
    merged.cost = sum(costs) if costs else None
    merged.wall_s = max(float(s.get("wall_s") or 0.0) for s in summaries)
    merged.note = first.get("note")
    errors = _join_errors(out, parts)
    if errors is not None:
        merged.errors_path = str(errors)
    count_file(out, merged)
    write_json_atomic(side_path(out, ".summary.json"), merged.to_dict())
    if remove_parts:
        for part in parts:
            for suffix in SIDE_SUFFIXES:
                side_path(part, suffix).unlink(missing_ok=True)
    return merged


def _read_summary(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable shard summary ({exc})") from None
    if not isinstance(row, dict) or not {"teacher", "mode", "backend"} <= row.keys():
        raise InputError(f"{path}: not a distillation summary")
    return row


def _join_errors(out: Path, parts: list[Path]) -> Path | None:
    """``OUT.errors.jsonl`` = the shards' error files in shard order (written atomically); ``None`` when no shard
    recorded a failure."""
    sources = [side_path(p, ".errors.jsonl") for p in parts if side_path(p, ".errors.jsonl").exists()]
    if not sources:
        return None
    target = side_path(out, ".errors.jsonl")
    with atomic_open(target) as fh:
        for source in sources:
            text = source.read_text(encoding="utf-8")
            fh.write(text if not text or text.endswith("\n") else text + "\n")
    return target
