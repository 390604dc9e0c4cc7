"""Inputs of the distillation stage besides its questions (``fs1.data.load_questions``): KG path files (``fs1 paths``).

Paths arrive as a JSONL file of ``PathRecord`` rows, never from ``fs1.kg`` directly: the KG is an offline input to the
teacher prompt, as in the paper.
"""

from __future__ import annotations

from pathlib import Path

from fs1.distill.teacher import index_paths
from fs1.io import InputError, read_records
from fs1.records import PathRecord, RecordError


def load_paths(path: str | Path) -> dict[str, PathRecord]:
    """Path records by question ID from a ``fs1 paths`` output file; errors name the file (and line)."""
    records = read_records(path, PathRecord)
    try:
        return index_paths(records)
    except RecordError as exc:
        raise InputError(f"{path}: {exc}") from None
