"""SimpleQA (OpenAI, 2024) in its published CSV format (``simple_qa_test_set.csv``) → Question records.

Columns: ``metadata, problem, answer``. ``metadata`` is the text of a Python dict, e.g.
``{'topic': 'Art', 'answer_type': 'Person', 'urls': ['https://…']}``, parsed with ``ast.literal_eval``.

Field mapping:

- ``ID`` ← ``simpleqa-<n>`` with ``n`` the 0-based data row (the CSV has no id column; uncertain whether the fs1
  benchmark numbers SimpleQA the same way, so join on question text if you must match its IDs).
- ``question`` ← ``problem``; ``main_answers`` ← ``[answer]``; no aliases (SimpleQA gives one answer).
- ``answer_type`` ← ``metadata['answer_type']`` lower-cased when it is one of the fs1 slices
  (Date/Number/Person/Place/Other), ``meta`` ← ``topic``, ``dataset_answer_type``, ``urls``.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Any

from fs1.data.common import SIMPLEQA, Loaded, finish, make_question
from fs1.io import InputError

COLUMNS = ("metadata", "problem", "answer")
SLICES = {"date", "number", "person", "place", "other"}


def parse_metadata(text: str, where: str) -> dict[str, Any]:
    """The ``metadata`` cell as a dict (it is Python-literal text, not JSON: single quotes)."""
    if not text.strip():
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(f"{where}: metadata is not a Python dict literal") from None
    if not isinstance(value, dict):
        raise InputError(f"{where}: metadata is a {type(value).__name__}, expected a dict")
    return value


def question_from_row(row: dict[str, str], index: int, where: str) -> dict[str, Any]:
    """One CSV row as a Question row."""
    meta = parse_metadata(row.get("metadata") or "", where)
    kind = str(meta.get("answer_type") or "")
    return {
        "ID": f"simpleqa-{index}",
        "question": row.get("problem") or "",
        "main_answers": [row.get("answer") or ""],
        "source_of_data": SIMPLEQA,
        "answer_type": kind.lower() if kind.lower() in SLICES else None,
        "meta": {
            "topic": meta.get("topic"),
            "dataset_answer_type": kind or None,
            "urls": meta.get("urls", []),
        },
    }


def load_simpleqa(path: Path) -> Loaded:
    """Read the SimpleQA CSV; errors name the file and the CSV line."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    questions = []
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            reader.fieldnames  # noqa: B018  (reads the header line)
        except UnicodeDecodeError:
            raise InputError(f"{path}:1: not UTF-8 text") from None
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}:1: not the SimpleQA CSV (missing column(s) {', '.join(missing)})")
        try:
            for index, row in enumerate(reader):
                where = f"{path}:{reader.line_num}"
                questions.append(make_question(question_from_row(row, index, where), where))
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: after line {reader.line_num}: not UTF-8 text") from None
    return finish(questions, [], path)
