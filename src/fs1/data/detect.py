"""Which dataset format a file is in, told from its contents (first record's keys) and, failing that, its name."""

from __future__ import annotations

import csv
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.data.common import Loaded, looks_like_json_lines, read_records
from fs1.data.simpleqa import LAYOUTS, NOT_SIMPLEQA, is_simplequestions
from fs1.io import InputError, read_jsonl_rows


@dataclass(frozen=True)
class DatasetFormat:
    """One dataset format: its reader, and how a file in it is recognised."""

    reader: (
        str  # "module:function" returning ``Loaded``, imported on demand (one format never loads another's)
    )
    signature: frozenset[str] = frozenset()  # keys only its records carry (pairwise disjoint: order is free)
    name_hints: tuple[str, ...] = ()  # fragments of a file name that name it, when the contents cannot tell


# The formats fs1 reads. Adding one: its loader module and one entry here (and a test file of its records).
FORMAT_TABLE: dict[str, DatasetFormat] = {
    "fs1": DatasetFormat("fs1.data.fs1_format:load_fs1_file", frozenset({"main_answers"})),
    "mintaka": DatasetFormat(
        "fs1.data.mintaka:load_mintaka", frozenset({"questionEntity", "complexityType"}), ("mintaka",)
    ),
    # SimpleQA is a CSV told by its header (``simpleqa.LAYOUTS``), or JSON rows of the same columns
    "simpleqa": DatasetFormat("fs1.data.simpleqa:load_simpleqa", frozenset(), ("simple_qa", "simpleqa")),
    "cwq": DatasetFormat(
        "fs1.data.cwq:load_cwq",
        frozenset({"compositionality_type", "machine_question", "webqsp_ID"}),
        ("complexwebquestions", "cwq"),
    ),
    "webqsp": DatasetFormat("fs1.data.webqsp:load_webqsp", frozenset({"QuestionId", "Parses"}), ("webqsp",)),
    "grailqa": DatasetFormat(
        "fs1.data.grailqa:load_grailqa", frozenset({"qid", "s_expression", "graph_query", "num_edge"}), ("grailqa",)
    ),
    "exaqt": DatasetFormat(
        "fs1.data.exaqt:load_exaqt",
        frozenset({"Temporal signal", "Temporal question type"}),
        ("timequestions", "exaqt"),
    ),
}  # fmt: skip
FORMATS: tuple[str, ...] = tuple(FORMAT_TABLE)
FS1_FORMAT = "fs1"  # fs1's own; the others are the datasets' own formats
DATASET_FORMATS: tuple[str, ...] = tuple(name for name in FORMATS if name != FS1_FORMAT)


def reader_of(fmt: str) -> Callable[[Path], Loaded]:
    """The loader of format ``fmt``; ``InputError`` naming the formats for any other name."""
    if fmt not in FORMAT_TABLE:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)} or auto")
    module_name, function = FORMAT_TABLE[fmt].reader.split(":")
    return getattr(importlib.import_module(module_name), function)


def format_of_record(record: Any) -> str | None:
    """The format whose signature keys the record carries, if any."""
    if not isinstance(record, dict):
        return None
    keys = set(record)
    return next((fmt for fmt, spec in FORMAT_TABLE.items() if keys & spec.signature), None)


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
    for fmt, spec in FORMAT_TABLE.items():
        if any(hint in name for hint in spec.name_hints):
            return fmt
    if record is None and path.suffix.lower() != ".csv":
        raise InputError(f"{path}: holds no records — no questions to read")
    raise InputError(
        f"{path}: cannot tell the dataset format from its contents or name; pass --format "
        f"({', '.join(FORMATS)})"
    )
