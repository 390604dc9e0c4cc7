"""Helpers shared by the dataset loaders: reading JSON/CSV files with file:line errors, building Question records
with errors that name the file and record, duplicate-ID checks and answer-list clean-up.

Every loader returns a :class:`Loaded` (the questions plus the IDs of records skipped for having no gold answer),
so a caller can report what was dropped instead of losing it silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fs1.io import InputError
from fs1.records import Question, RecordError
from fs1.vocab import SOURCES

log = logging.getLogger("fs1.data")

# Exact `source_of_data` values of the published fs1 benchmark.
CWQ, EXAQT, GRAILQA, SIMPLEQA, MINTAKA, WEBQSP = SOURCES


@dataclass
class Loaded:
    """Questions read from one input, plus IDs of records skipped because they carry no gold answer."""

    questions: list[Question]
    skipped: list[str] = field(default_factory=list)


def read_json_document(path: Path) -> Any:
    """Parse a whole JSON file; a syntax error names file and line, a missing file is an ``InputError``."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with path.open("r", encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


def expect_list(doc: Any, path: Path, what: str) -> list[Any]:
    """The top-level JSON array of a dataset file (error otherwise)."""
    if not isinstance(doc, list):
        raise InputError(f"{path}: expected a JSON array of {what}, got {type(doc).__name__}")
    return doc


def expect_dict(item: Any, where: str) -> dict[str, Any]:
    """One record, which must be a JSON object."""
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(item).__name__}")
    return item


def require(item: dict[str, Any], key: str, where: str) -> Any:
    """A field the format cannot do without; its absence is an error naming the record."""
    if key not in item or item[key] is None:
        raise InputError(f"{where}: missing field {key!r}")
    return item[key]


def as_text_list(value: Any) -> list[str]:
    """Strings from a value that may be one string, a list of strings, or ``None``; blanks dropped, order kept."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = [str(v).strip() for v in items if v is not None and str(v).strip()]
    return list(dict.fromkeys(out))


def without(values: Iterable[str], taken: Iterable[str]) -> list[str]:
    """``values`` minus those already in ``taken`` (aliases that repeat a main answer), duplicates removed."""
    seen = set(taken)
    return [v for v in dict.fromkeys(values) if v not in seen]


def make_question(row: dict[str, Any], where: str) -> Question:
    """Build a Question; a record error becomes an ``InputError`` naming ``where`` (file and record)."""
    try:
        return Question.from_dict(row)
    except (RecordError, TypeError) as exc:
        raise InputError(f"{where}: {exc}") from None


def finish(questions: list[Question], skipped: list[str], path: Path | str) -> Loaded:
    """Check IDs are unique and log skipped records; the last step of every loader."""
    check_unique_ids(questions, path)
    if skipped:
        shown = ", ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
        log.warning("%s: skipped %d record(s) without any gold answer (%s)", path, len(skipped), shown)
    return Loaded(questions, skipped)


def check_unique_ids(questions: Iterable[Question], path: Path | str) -> None:
    """Raise ``InputError`` naming the file when two questions share an ID."""
    seen: set[str] = set()
    for q in questions:
        if q.ID in seen:
            raise InputError(f"{path}: duplicate question ID {q.ID!r}")
        seen.add(q.ID)


def load_json_records(
    path: Path, what: str, id_key: str, to_row: Callable[[dict[str, Any], str], dict[str, Any] | None]
) -> Loaded:
    """The loop shared by JSON-list formats: each record → ``to_row`` → Question; ``None`` rows are skipped."""
    records = expect_list(read_json_document(path), path, what)
    questions, skipped = [], []
    for index, raw in enumerate(records):
        item = expect_dict(raw, f"{path}: record {index}")
        where = f"{path}: record {index}" + (f" ({id_key} {item[id_key]})" if id_key in item else "")
        row = to_row(item, where)
        if row is None:
            skipped.append(str(item.get(id_key, index)))
            continue
        questions.append(make_question(row, where))
    return finish(questions, skipped, path)
