"""SimpleQA (OpenAI, 2024) in its published CSV format (``simple_qa_test_set.csv``) → Question records.

Columns: ``metadata, problem, answer``. ``metadata`` is the text of a Python dict, e.g.
``{'topic': 'Art', 'answer_type': 'Person', 'urls': ['https://…']}``, parsed with ``ast.literal_eval``.
Copies rename the columns to ``metadata, question, true_answer`` (OpenDeepSearch and others), or store the rows as
JSON / JSON Lines (``metadata`` then may be an object); all are read.

SimpleQuestions (Bordes et al., 2015; Freebase; ``topic_entity``/``relation``/``answer`` records), often saved as
``SimpleQA.json`` by KGQA projects, is a different dataset: it is recognised and refused, never loaded as SimpleQA.

Field mapping:

- ``ID`` ← the copy's own ``id``/``ID`` column where it has one; else ``simpleqa-`` + the first 12 hex digits of
  the SHA-256 of the question text (white space collapsed), so a subset or a reordered copy keeps each question's
  ID. A question text that occurs again gets ``-2``, ``-3``… in order of appearance. Files written before this
  (IDs ``simpleqa-<n>``, ``n`` the 0-based data row) still score: the row ID is kept as ``meta["row_id"]`` and
  ``fs1 score``/``judge``/``compare`` accept it for the question (``fs1.data.question_index``).
- ``question`` ← ``problem``; ``main_answers`` ← ``[answer]``; no aliases (SimpleQA gives one answer) but the year
  of a full-date answer to a "what year" question (the one date policy of ``fs1.data.dates``).
- ``answer_type`` ← ``metadata['answer_type']`` lower-cased (Date/Number/Person/Place/Other: the paper's five
  answer types, in ``fs1.vocab.ANSWER_TYPES``); ``topic`` ← ``metadata['topic']`` lower-cased ("Science and technology" →
  "science and technology"); ``meta`` ← ``topic`` (as written), ``dataset_answer_type``, ``urls``, ``row_id``.
"""

from __future__ import annotations

import ast
import csv
import hashlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fs1.data.common import (
    NO_GOLD,
    SIMPLEQA,
    Loaded,
    expect_dict,
    finish,
    make_question,
    read_records,
    topic_label,
    with_precision_aliases,
)
from fs1.io import InputError
from fs1.records import Question
from fs1.vocab import ANSWER_TYPES

# Column names: the official file's, then the renamed copies' (question, answer).
LAYOUTS = (("problem", "answer"), ("question", "true_answer"))
SIMPLEQUESTIONS_KEYS = frozenset({"topic_entity", "relation", "answer", "question"})
NOT_SIMPLEQA = (
    "{path}: this is SimpleQuestions (Freebase; records with topic_entity, relation, answer), often saved as "
    "SimpleQA.json — not OpenAI's SimpleQA, and not one of the fs1 datasets; fs1 does not load it. "
    "OpenAI's SimpleQA is the CSV simple_qa_test_set.csv (columns metadata, problem, answer)."
)


def is_simplequestions(record: Any) -> bool:
    """A SimpleQuestions-on-Freebase record (ToG's ``SimpleQA.json``), which is not OpenAI's SimpleQA."""
    return isinstance(record, dict) and set(record) >= SIMPLEQUESTIONS_KEYS and "problem" not in record


def parse_metadata(text: Any, where: str) -> dict[str, Any]:
    """The ``metadata`` cell as a dict (Python-literal text in the CSV, single quotes; an object in JSON copies)."""
    if isinstance(text, dict):
        return text
    text = "" if text is None else str(text)
    if not text.strip():
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(f"{where}: metadata is not a Python dict literal") from None
    if not isinstance(value, dict):
        raise InputError(f"{where}: metadata is a {type(value).__name__}, expected a dict")
    return value


def _layout(columns: Iterable[str], where: str) -> tuple[str, str]:
    """The (question, answer) column names of this copy."""
    present = set(columns)
    for question_key, answer_key in LAYOUTS:
        if {question_key, answer_key} <= present:
            return question_key, answer_key
    raise InputError(
        f"{where}: not SimpleQA (expected columns metadata,problem,answer or metadata,question,true_answer; "
        f"found {', '.join(sorted(present)) or 'none'})"
    )


ID_COLUMNS = ("id", "ID")
ID_PREFIX = "simpleqa-"
ID_HEX_DIGITS = 12  # 48 bits: no collision expected among millions of questions


def content_id(question: str) -> str:
    """The ID of a SimpleQA question without an id column: a stable hash of its text (white space collapsed)."""
    digest = hashlib.sha256(" ".join(question.split()).encode("utf-8")).hexdigest()
    return ID_PREFIX + digest[:ID_HEX_DIGITS]


def row_id(index: int) -> str:
    """The ID fs1 gave the row at 0-based ``index`` before IDs were derived from content."""
    return f"{ID_PREFIX}{index}"


def _question_id(row: dict[str, Any], question: str, seen: Counter[str]) -> str:
    own = next((row[key] for key in ID_COLUMNS if row.get(key) not in (None, "")), None)
    if own is not None:
        return str(own).strip()
    base = content_id(question)
    seen[base] += 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"


def question_from_row(
    row: dict[str, Any],
    index: int,
    where: str,
    layout: tuple[str, str] = LAYOUTS[0],
    seen: Counter[str] | None = None,
) -> dict[str, Any] | None:
    """One row as a Question row, or ``None`` when its answer is blank. ``seen`` counts the content IDs given so
    far in this file (repeated question texts)."""
    meta = parse_metadata(row.get("metadata"), where)
    kind = str(meta.get("answer_type") or "")
    answer = str(row.get(layout[1]) or "").strip()
    if not answer:
        return None
    question = str(row.get(layout[0]) or "")
    return {
        "ID": _question_id(row, question, Counter() if seen is None else seen),
        "question": question,
        "main_answers": [answer],
        "answer_aliases": with_precision_aliases(question, [answer], []),
        "source_of_data": SIMPLEQA,
        "answer_type": kind.lower() if kind.lower() in ANSWER_TYPES else None,
        "topic": topic_label(meta.get("topic")),
        "meta": {
            "topic": meta.get("topic"),
            "dataset_answer_type": kind or None,
            "urls": meta.get("urls", []),
            "row_id": row_id(index),
        },
    }


def _csv_rows(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], tuple[str, str], str]:
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            fieldnames = reader.fieldnames or []  # reads the header line
        except UnicodeDecodeError:
            raise InputError(f"{path}:1: not UTF-8 text") from None
        layout = _layout(fieldnames, f"{path}:1")
        rows: list[tuple[str, dict[str, Any]]] = []
        try:
            for row in reader:
                rows.append((f"{path}:{reader.line_num}", row))
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: after line {reader.line_num}: not UTF-8 text") from None
    if layout == LAYOUTS[0]:
        return rows, layout, "SimpleQA, official CSV"
    return rows, layout, f"SimpleQA, CSV with renamed columns ({', '.join(layout)})"


def _json_rows(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], tuple[str, str], str]:
    records = read_records(path, "SimpleQA rows")
    items = [(where, expect_dict(r, where)) for where, r in records.items]
    if items and is_simplequestions(items[0][1]):
        raise InputError(NOT_SIMPLEQA.format(path=path))
    layout = _layout(items[0][1] if items else LAYOUTS[0], items[0][0] if items else str(path))
    return items, layout, f"SimpleQA, {records.container} copy"


def load_simpleqa(path: Path) -> Loaded:
    """Read SimpleQA: the official CSV, the renamed-columns CSV, or JSON / JSON Lines rows; errors name the line."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    rows, layout, variant = _csv_rows(path) if path.suffix.lower() == ".csv" else _json_rows(path)
    questions: list[Question] = []
    skipped: dict[str, list[str]] = {NO_GOLD: []}
    seen: Counter[str] = Counter()
    for index, (where, row) in enumerate(rows):
        built = question_from_row(row, index, where, layout, seen)
        if built is None:  # named by the ID it would have had
            skipped[NO_GOLD].append(content_id(str(row.get(layout[0]) or "")))
            continue
        questions.append(make_question(built, where))
    return finish(questions, skipped, path, variant)
