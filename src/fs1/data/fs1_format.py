"""The fs1 benchmark format: rows with ``ID, question, main_answers, answer_aliases, source_of_data`` (the published
benchmark's columns) plus the optional Question fields ``question_entities, answer_entities, hops, answer_type,
topic, meta``. A ``topic`` is lower-cased on reading (``common.topic_label``), as the dataset loaders write it;
files written before topics were kept have none (``None``: left out of the topic slice). An ``answer_type`` is
read into the one vocabulary (``fs1.vocab.ANSWER_TYPES``) the same way; any other value is unset (kept in meta).
Read from JSONL, a JSON array, Parquet, or rows already loaded (Hugging Face hub).

Unknown columns are kept in ``meta`` (``Question.from_dict`` does that), so nothing in a row is lost.

A JSONL benchmark of 100,000s of questions is read a line at a time with ``orjson``, and a row that is plainly a
valid question (``_plain_question``: every column of its usual type, nothing to convert) becomes one directly; any
other line is read as before (``fs1.io.jsonl_line``, ``normalise_row``, ``Question.from_dict``), so the questions and
the one-line errors are the same either way (tests/test_fs1_format_fast.py holds the two to each other).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from fs1.data.common import (
    Loaded,
    expect_dict,
    expect_list,
    finish,
    make_question,
    read_json_document,
    read_skipped,
    topic_label,
)
from fs1.io import InputError, jsonl_line
from fs1.records import Question, RecordError
from fs1.vocab import ANSWER_TYPES

REQUIRED_COLUMNS = ("ID", "question", "main_answers")
LIST_COLUMNS = ("main_answers", "answer_aliases", "question_entities", "answer_entities")
SUFFIXES = (".jsonl", ".json", ".parquet")
VARIANT = "fs1 benchmark format"
_NULL = type(None)
# (column, value type) pairs a row may hold for ``_plain_question`` to take it as it is: every other pair (an integer
# ID, a list given as text or as one string, a float, a null list, an unknown column...) is left to the full path.
_PLAIN_COLUMNS = frozenset(
    [("ID", str), ("question", str), ("source_of_data", str), ("meta", dict), ("hops", int), ("hops", _NULL)]
    + [(name, list) for name in LIST_COLUMNS]
    + [(name, kind) for name in ("answer_type", "topic") for kind in (str, _NULL)]
)
_ONLY_TEXT = frozenset({str}).issuperset
_LABELLED_TYPES = frozenset(
    kind for kind in ANSWER_TYPES if topic_label(kind) == kind
)  # (all of them: as written)
# Metadata nested deeper than this is left to ``json``, whose recursion limit decides when nesting is too deep.
_PLAIN_DEPTH = 32


def _decode_list_text(value: Any) -> Any:
    """A list column may arrive as the text of a list (CSV/Parquet exports often do that); decode it.

    Uncertain detail: the published hub dataset is documented with list-valued answer columns; this is a guard
    for re-exported copies, and a plain answer string that merely starts with "[" stays a string if it won't parse.
    """
    if not isinstance(value, str) or not value.lstrip().startswith("["):
        return value
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(value)
        except (ValueError, SyntaxError):
            continue
        if isinstance(parsed, list):
            return parsed
    return value


def normalise_row(row: dict[str, Any]) -> dict[str, Any]:
    """A fs1 row ready for ``Question.from_dict``: list columns decoded, numpy/pyarrow scalars made plain."""
    out = dict(row)
    for name in LIST_COLUMNS:
        if name in out:
            value = _decode_list_text(out[name])
            if isinstance(value, tuple) or hasattr(value, "tolist"):
                value = list(value)  # numpy arrays / tuples from Parquet readers
            out[name] = value
    hops: Any = out.get("hops")
    if hasattr(hops, "item") and not isinstance(hops, (str, bytes)):
        out["hops"] = hops.item()  # a numpy integer from a Parquet reader
    elif isinstance(hops, str) and hops.strip().isdigit():
        out["hops"] = int(hops)  # re-exported CSV copies write numbers as text
    if "topic" in out:
        out["topic"] = topic_label(out["topic"])  # one case for every reader, so slices do not split on case
    if out.get("answer_type") is not None:
        _one_answer_type(out)
    return out


def _one_answer_type(row: dict[str, Any]) -> None:
    """``answer_type`` in the one vocabulary (``fs1.vocab.ANSWER_TYPES``) whatever wrote the file: lower-cased
    ("Person" → person); a value outside it (a file edited by hand, another tool's label) is unset, so it cannot
    open a slice of its own, and kept in ``meta["dataset_answer_type"]``."""
    value = row["answer_type"]
    label = topic_label(value) if isinstance(value, str) else None
    if label in ANSWER_TYPES:
        row["answer_type"] = label
        return
    row["answer_type"] = None
    meta = row.get("meta")
    if meta is None or isinstance(meta, dict):  # (another type is the record check's to report)
        row["meta"] = {"dataset_answer_type": value, **(meta or {})}


def questions_from_rows(rows: Iterable[tuple[str, dict[str, Any]]], source: Path | str) -> Loaded:
    """Questions from ``(where, row)`` pairs, ``where`` naming file and line/record for errors."""
    return finish([row_question(row, where) for where, row in rows], {}, source, VARIANT)


def row_question(row: dict[str, Any], where: str) -> Question:
    """One fs1-format row as a Question, or one ``InputError`` naming ``where``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in row]
    if missing:
        raise InputError(f"{where}: not the fs1 benchmark format (missing {', '.join(missing)})")
    return make_question(normalise_row(row), where)


def _jsonl_questions(path: Path) -> list[Question]:
    """The questions of a fs1-format JSONL file, line by line: ``_plain_question`` of the ``orjson`` decoding where
    it takes the row, else the line read as every JSONL reader reads it (``jsonl_line``) and ``row_question``."""
    questions = []
    loads, error = orjson.loads, orjson.JSONDecodeError
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                row = loads(raw)
            except (
                error
            ):  # (not JSON to orjson: blank, malformed, a lone surrogate, NaN... json decides below)
                row = None
            question = _plain_question(row) if type(row) is dict else None
            if question is None:
                row = jsonl_line(raw, path, lineno)
                if row is None:
                    continue  # a blank line
                question = row_question(row, f"{path}:{lineno}")
            questions.append(question)
    return questions


def _plain_question(row: dict[str, Any]) -> Question | None:
    """``row`` (as ``orjson`` decoded it) as the Question ``row_question`` would make of it, when it is plainly valid;
    ``None`` for anything else, left to ``row_question``: a column missing or of another type (``_PLAIN_COLUMNS``),
    a list holding other than strings, an answer type outside the vocabulary, metadata that ``orjson`` may read
    otherwise than ``json`` (a float, an integer beyond 64 bits, which it reads as a float, deep nesting), or a row
    the record's own checks refuse."""
    if not _PLAIN_COLUMNS.issuperset(zip(row, map(type, row.values()))):  # noqa: B905 (a dict's keys and values)
        return None
    if "ID" not in row or "question" not in row or "main_answers" not in row:
        return None
    get = row.get
    for name in LIST_COLUMNS:
        values = get(name)
        if values and not _ONLY_TEXT(map(type, values)):
            return None
    if get("meta") and not _plain_json(row["meta"], _PLAIN_DEPTH):
        return None
    if get("topic") is not None:
        row["topic"] = topic_label(row["topic"])
    kind = get("answer_type")
    if kind is not None and kind not in _LABELLED_TYPES:
        row["answer_type"] = topic_label(kind)
        if row["answer_type"] not in ANSWER_TYPES:
            return None  # (kept in meta by normalise_row)
    question = Question(**row)
    try:
        question.validate()
    except RecordError:
        return None
    return question


def _plain_json(value: Any, depth: int) -> bool:
    """No float anywhere in ``value`` and no nesting deeper than ``depth``: ``orjson`` read it as ``json`` does."""
    kind = type(value)
    if kind is dict:
        return depth > 0 and all(_plain_json(item, depth - 1) for item in value.values())
    if kind is list:
        return depth > 0 and all(_plain_json(item, depth - 1) for item in value)
    return kind is not float


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot read Parquet ({str(exc).splitlines()[0]})") from None


def load_fs1_file(path: Path) -> Loaded:
    """Read a fs1-format ``.jsonl``, ``.json`` (array of objects) or ``.parquet`` file, with the records its
    conversion skipped as ``Loaded.skipped`` (``fs1 data convert``'s side file beside it, ``read_skipped``)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: expected a {', '.join(SUFFIXES)} file in the fs1 benchmark format")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix == ".jsonl":
        loaded = finish(_jsonl_questions(path), {}, path, VARIANT)
    elif suffix == ".json":
        doc = expect_list(read_json_document(path), path, "benchmark rows")
        rows = ((f"{path}: record {i}", expect_dict(r, f"{path}: record {i}")) for i, r in enumerate(doc))
        loaded = questions_from_rows(rows, path)
    else:
        loaded = questions_from_rows(
            ((f"{path}: row {i}", r) for i, r in enumerate(_parquet_rows(path))), path
        )
    loaded.skipped = read_skipped(path)
    return loaded
