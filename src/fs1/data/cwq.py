"""ComplexWebQuestions (Talmor & Berant, 2018) in its published JSON format → Question records.

A CWQ file (``ComplexWebQuestions_{train,dev,test}.json``) is a JSON array of records::

    {"ID", "question", "machine_question", "compositionality_type", "composition_answer", "created",
     "sparql", "webqsp_ID", "webqsp_question",
     "answers": [{"answer": "Belgium", "answer_id": "m.0154j", "aliases": ["Kingdom of Belgium", …]}]}

Hugging Face copies store ``answers`` column-wise (``{"answer": [...], "answer_id": [...], "aliases": [[...]]}``);
both layouts are read. ``answer`` is a string in the original release and a one-element list in some copies.

Field mapping:

- ``ID`` ← ``ID``; ``question`` ← ``question``; ``main_answers`` ← each answer's name; ``answer_aliases`` ← the
  union of their aliases; ``answer_entities`` ← ``answer_id`` (Freebase MIDs, ``m.…``).
- ``question_entities`` ← the Freebase MIDs named in ``sparql`` (``ns:m.…``): CWQ has no topic-entity field,
  and the SPARQL's constants are the question's entities (plus constraint entities; uncertain which is which).
- ``meta`` ← ``compositionality_type``, ``machine_question``, ``composition_answer``, ``webqsp_id``,
  ``webqsp_question``, ``sparql``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fs1.data.common import (
    CWQ,
    Loaded,
    as_text_list,
    expect_dict,
    load_json_records,
    require,
    without,
)
from fs1.io import InputError

SPARQL_MID = re.compile(r"\bns:([mg]\.[0-9a-z_]+)")


def _answer_dicts(answers: Any, where: str) -> list[dict[str, Any]]:
    """Answers as a list of ``{"answer", "answer_id", "aliases"}``, whichever layout the file uses."""
    if answers is None:
        return []
    if isinstance(answers, dict):  # column-wise (Hugging Face) layout
        names = answers.get("answer") or []
        ids = answers.get("answer_id") or [None] * len(names)
        aliases = answers.get("aliases") or [[]] * len(names)
        return [
            {"answer": n, "answer_id": i, "aliases": a} for n, i, a in zip(names, ids, aliases, strict=False)
        ]
    if not isinstance(answers, list):
        raise InputError(f"{where}: field answers must be a list or an object")
    return [expect_dict(a, f"{where}: answers[{i}]") for i, a in enumerate(answers)]


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One CWQ record as a Question row, or ``None`` when it has no named answer."""
    answers = _answer_dicts(item.get("answers"), where)
    main = as_text_list([name for a in answers for name in as_text_list(a.get("answer"))])
    if not main:
        return None
    aliases = [alias for a in answers for alias in as_text_list(a.get("aliases"))]
    sparql = str(item.get("sparql") or "")
    return {
        "ID": str(require(item, "ID", where)),
        "question": require(item, "question", where),
        "main_answers": main,
        "answer_aliases": without(aliases, main),
        "source_of_data": CWQ,
        "question_entities": list(dict.fromkeys(SPARQL_MID.findall(sparql))),
        "answer_entities": as_text_list([a.get("answer_id") for a in answers]),
        "meta": {
            "compositionality_type": item.get("compositionality_type"),
            "machine_question": item.get("machine_question"),
            "composition_answer": item.get("composition_answer"),
            "webqsp_id": item.get("webqsp_ID"),
            "webqsp_question": item.get("webqsp_question"),
            "sparql": sparql or None,
        },
    }


def load_cwq(path: Path) -> Loaded:
    """Read a ComplexWebQuestions JSON file."""
    return load_json_records(path, "ComplexWebQuestions records", "ID", question_from_record)
