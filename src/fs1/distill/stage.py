"""The distill stage as the driver sees it (``fs1.stage``): questions → ``traces.jsonl``, one trace per (question,
sample), appended as the teacher answers. ``fs1 distill`` and the run's ``distill/MODE`` stages both run it.

Sharded, shard ``I`` of ``N`` distils a contiguous slice of the questions into ``TRACES.shard-I-of-N.jsonl``
(resumable like any output of ``run_distillation``); the merge puts every (question, sample) into ``TRACES.jsonl``
once, then ``finish_distill_merge`` joins the shards' error files and writes the merged summary.

A unit's seed depends on (run seed, question, sample) only, so merged shards hold the traces one process would have
written, in the same order. A unit that failed after the backend's retries is in its shard's errors file and not in
its traces (the unsharded run leaves it out the same way): the merge accepts it missing, and only it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.distill.config import DistillConfig, DistillSummary
from fs1.distill.runner import count_file, run_distillation, side_path
from fs1.distill.teacher import teacher_prompt
from fs1.io import InputError, atomic_open, completed_keys, write_json_atomic
from fs1.records import PathRecord, Question, Trace
from fs1.shards import shard_path
from fs1.stage import Described, Stage

OUTPUT = "traces.jsonl"
SIDE_SUFFIXES = (".errors.jsonl", ".summary.json")
SUMMED = ("planned", "already_done", "written", "failed", "skipped_no_path", "flagged_no_path")


@dataclass
class DistillSpec:
    """The teacher's settings, the KG paths by question ID (fs1 mode), and the command's own switches."""

    config: DistillConfig
    paths: dict[str, PathRecord] | None = None
    overwrite: bool = False
    progress: bool = True


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


def expected_keys(questions: Sequence[Question], spec: DistillSpec) -> set[Hashable]:
    return planned_keys(list(questions), spec.config, spec.paths)


def failed_keys(part: Path) -> set[Hashable]:
    """The units a shard recorded as failed (its errors file): the merge accepts them missing, and only them."""
    return completed_keys(side_path(part, ".errors.jsonl"), trace_key)


def run_distill(questions: list[Question], spec: DistillSpec, out: Path, resume: bool) -> DistillSummary:
    return run_distillation(
        questions, spec.config, out, paths=spec.paths, resume=resume, overwrite=spec.overwrite,
        show_progress=spec.progress,
    )  # fmt: skip


def distill_line(mode: str, s: dict[str, Any]) -> str:
    """The console line of a distill stage, from its summary (of the merged file when sharded)."""
    return (
        f"  {mode} traces: {s['file_traces']} in file ({s['file_correct']} correct, {s['file_valid']} "
        f"well-formed), {s['written']} written now in {s['wall_s']:.0f} s"
        + (f"; note: {s['note']}" if s.get("note") else "")
    )


def finish_distill_merge(out: Path, count: int) -> DistillSummary:
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
    merged.engine = merged_engine(summaries)
    errors = _join_errors(out, parts)
    if errors is not None:
        merged.errors_path = str(errors)
    count_file(out, merged)
    write_json_atomic(side_path(out, ".summary.json"), merged.to_dict())
    return merged


def merged_engine(summaries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The teacher engine of merged shards: the one they all describe; where they differ (shards on other servers
    or versions) each distinct one under ``shards`` (every job's manifest keeps its own)."""
    described = [s["engine"] for s in summaries if s.get("engine") and s["engine"].get("described", True)]
    distinct = [e for i, e in enumerate(described) if e not in described[:i]]
    if len(distinct) == 1:
        return distinct[0]
    if distinct:
        return {"shards": distinct}
    return next((s["engine"] for s in summaries if s.get("engine")), None)


def engine_facts(summary: DistillSummary) -> dict[str, Any] | None:
    """The teacher's engine, read before the run (``DistillSummary.engine``)."""
    return summary.engine


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


DISTILL: Stage[DistillSpec] = Stage(
    name="distill", output=OUTPUT, record=Trace, key=trace_key, run=run_distill, expected=expected_keys,
    excused=failed_keys, after_merge=finish_distill_merge, side_files=SIDE_SUFFIXES,
    described=Described(engine_facts),
)  # fmt: skip
