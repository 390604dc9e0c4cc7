"""Inputs of the distillation stage: benchmark questions (through ``fs1.data``) and KG path files (``fs1 paths``).

Paths arrive as a JSONL file of ``PathRecord`` rows, never from ``fs1.kg`` directly: the KG is an offline input to the
teacher prompt, as in the paper.
"""

from __future__ import annotations

from pathlib import Path

from fs1.distill.teacher import index_paths
from fs1.errors import ConfigError
from fs1.io import InputError, read_records
from fs1.records import PathRecord, Question, RecordError


def load_questions(spec: str, limit: int | None = None, fmt: str = "auto") -> list[Question]:
    """Questions of a benchmark spec (``sample``, a dataset file in format ``fmt``, …) as ``fs1.data.load_benchmark``
    reads it."""
    from fs1.data import load_benchmark

    if limit is not None and limit <= 0:
        raise ConfigError(f"--limit must be positive, got {limit}")
    questions = load_benchmark(spec, limit=limit, fmt=fmt)
    if not questions:
        raise InputError(f"{spec}: no questions")
    return questions


def load_paths(path: str | Path) -> dict[str, PathRecord]:
    """Path records by question ID from a ``fs1 paths`` output file; errors name the file (and line)."""
    records = read_records(path, PathRecord)
    try:
        return index_paths(records)
    except RecordError as exc:
        raise InputError(f"{path}: {exc}") from None
