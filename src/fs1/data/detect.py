"""Which dataset format a file is in, told from its contents (first record's keys) and, failing that, its name."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from fs1.data.common import looks_like_json_lines, read_records
from fs1.data.simpleqa import LAYOUTS, NOT_SIMPLEQA, is_simplequestions
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
    if suffix == ".parquet":
        return {"main_answers": None}  # only the fs1 benchmark is distributed as Parquet
    if suffix == ".csv":
        with path.open("r", encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
        return {"csv": header}
    if looks_like_json_lines(path):  # only the first line: fs1 benchmark files can be large
        return next((row for _, row in read_jsonl_rows(path)), None)
    records = read_records(path, "records", wrapper_key="Questions")
    if records.container == "JSON with wrapper":
        return {"Parses": None}  # WebQSP wraps its questions in an object
    return records.items[0][1] if records.items else None


def _is_empty(path: Path) -> bool:
    with path.open("rb") as fh:
        return not fh.read(4096).strip()


def detect_format(path: Path) -> str:
    """Name of the format of ``path`` (one of ``FORMATS``); ``InputError`` when it cannot be told, when the file is
    empty, or when it is SimpleQuestions saved under SimpleQA's name."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if _is_empty(path):
        raise InputError(f"{path}: the file is empty — no questions to read")
    try:
        record = _first_record(path)
    except (UnicodeDecodeError, csv.Error):
        record = None
    if isinstance(record, dict) and "csv" in record:
        header = set(record["csv"])
        if any(set(layout) <= header for layout in LAYOUTS):
            return "simpleqa"
        record = None
    if is_simplequestions(record):
        raise InputError(NOT_SIMPLEQA.format(path=path))
    found = format_of_record(record)
    if found:
        return found
    name = path.name.lower()
    for hint, fmt in NAME_HINTS:
        if hint in name:
            return fmt
    if record is None and path.suffix.lower() != ".csv":
        raise InputError(f"{path}: holds no records — no questions to read")
    raise InputError(
        f"{path}: cannot tell the dataset format from its contents or name; pass --format "
        f"({', '.join(FORMATS)})"
    )
