"""Which dataset format a file is in, told from its contents (first record's keys) and, failing that, its name."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from fs1.data.common import read_json_document
from fs1.io import InputError, read_jsonl_rows

FORMATS = ("fs1", "mintaka", "simpleqa", "cwq", "webqsp", "grailqa", "exaqt")

# Keys that only one format's records carry; checked in this order against the first record.
SIGNATURE_KEYS: tuple[tuple[str, frozenset[str]], ...] = (
    ("fs1", frozenset({"main_answers"})),
    ("mintaka", frozenset({"questionEntity", "complexityType"})),
    ("exaqt", frozenset({"Temporal signal", "Temporal question type"})),
    ("cwq", frozenset({"compositionality_type", "machine_question", "webqsp_ID"})),
    ("grailqa", frozenset({"qid", "s_expression", "graph_query", "num_edge"})),
    ("webqsp", frozenset({"QuestionId", "Parses"})),
)
NAME_HINTS = (
    ("mintaka", "mintaka"),
    ("simple_qa", "simpleqa"),
    ("simpleqa", "simpleqa"),
    ("complexwebquestions", "cwq"),
    ("cwq", "cwq"),
    ("webqsp", "webqsp"),
    ("grailqa", "grailqa"),
    ("timequestions", "exaqt"),
    ("exaqt", "exaqt"),
)


def format_of_record(record: Any) -> str | None:
    """The format whose signature keys the record carries, if any."""
    if not isinstance(record, dict):
        return None
    keys = set(record)
    for fmt, signature in SIGNATURE_KEYS:
        if keys & signature:
            return fmt
    return None


def _first_record(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return next((row for _, row in read_jsonl_rows(path)), None)
    if suffix == ".parquet":
        return {"main_answers": None}  # only the fs1 benchmark is distributed as Parquet
    if suffix == ".csv":
        with path.open("r", encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
        return {"csv": header}
    doc = read_json_document(path)
    if isinstance(doc, dict) and isinstance(doc.get("Questions"), list):
        return {"Parses": None}  # WebQSP wraps its questions in an object
    return doc[0] if isinstance(doc, list) and doc else None


def detect_format(path: Path) -> str:
    """Name of the format of ``path`` (one of ``FORMATS``); ``InputError`` when it cannot be told."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        record = _first_record(path)
    except (UnicodeDecodeError, csv.Error):
        record = None
    if isinstance(record, dict) and "csv" in record:
        if {"problem", "answer"} <= set(record["csv"]):
            return "simpleqa"
        record = None
    found = format_of_record(record)
    if found:
        return found
    name = path.name.lower()
    for hint, fmt in NAME_HINTS:
        if hint in name:
            return fmt
    raise InputError(
        f"{path}: cannot tell the dataset format from its contents or name; pass --format "
        f"({', '.join(FORMATS)})"
    )
