"""The fs1 benchmark format: rows with ``ID, question, main_answers, answer_aliases, source_of_data`` (the published
benchmark's columns) plus the optional Question fields ``question_entities, answer_entities, hops, answer_type,
topic, meta``. A ``topic`` is lower-cased on reading (``common.topic_label``), as the dataset loaders write it;
files written before topics were kept have none (``None``: left out of the topic slice). An ``answer_type`` is
read into the one vocabulary (``fs1.vocab.ANSWER_TYPES``) the same way; any other value is unset (kept in meta).
Read from JSONL, a JSON array, Parquet, or rows already loaded (Hugging Face hub).

Unknown columns are kept in ``meta`` (``Question.from_dict`` does that), so nothing in a row is lost.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
from fs1.io import InputError, read_jsonl_rows
from fs1.vocab import ANSWER_TYPES

REQUIRED_COLUMNS = ("ID", "question", "main_answers")
LIST_COLUMNS = ("main_answers", "answer_aliases", "question_entities", "answer_entities")
SUFFIXES = (".jsonl", ".json", ".parquet")


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
    questions = []
    for where, row in rows:
        missing = [c for c in REQUIRED_COLUMNS if c not in row]
        if missing:
            raise InputError(f"{where}: not the fs1 benchmark format (missing {', '.join(missing)})")
        questions.append(make_question(normalise_row(row), where))
    return finish(questions, {}, source, "fs1 benchmark format")


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
        rows: Iterable[tuple[str, dict[str, Any]]] = ((f"{path}:{n}", r) for n, r in read_jsonl_rows(path))
    elif suffix == ".json":
        doc = expect_list(read_json_document(path), path, "benchmark rows")
        rows = ((f"{path}: record {i}", expect_dict(r, f"{path}: record {i}")) for i, r in enumerate(doc))
    else:
        rows = ((f"{path}: row {i}", r) for i, r in enumerate(_parquet_rows(path)))
    loaded = questions_from_rows(rows, path)
    loaded.skipped = read_skipped(path)
    return loaded
