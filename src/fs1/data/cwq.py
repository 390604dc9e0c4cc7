"""ComplexWebQuestions (Talmor & Berant, 2018) in its published JSON format → Question records.

A CWQ file (``ComplexWebQuestions_{train,dev,test}.json``) is a JSON array of records::

    {"ID", "question", "machine_question", "compositionality_type", "composition_answer", "created",
     "sparql", "webqsp_ID", "webqsp_question",
     "answers": [{"answer": "Belgium", "answer_id": "m.0154j", "aliases": ["Kingdom of Belgium", …]}]}

Hugging Face copies store ``answers`` column-wise (``{"answer": [...], "answer_id": [...], "aliases": [[...]]}``);
both layouts are read. ``answer`` is a string in the original release and a one-element list in some copies.

Copies that KGQA projects circulate (JSON or JSON Lines) replace ``answers`` by one ``answer`` field:

- Think-on-Graph (and dynamic-KGQA): ``answer`` is ONE string, plus ``topic_entity`` ``{MID: name}`` and
  ``qid_topic_entity`` ``{id: name}`` (ids may be QIDs or YAGO ids, so they go to ``meta`` only).
- ChatKBQA: ``answer`` is a list of Freebase ids (``m.…``/``g.…``) and sometimes bare literals; the literals are
  answers, the ids go to ``answer_entities`` (see ``common.answer_fields`` for id-only questions).

Field mapping:

- ``ID`` ← ``ID``; ``question`` ← ``question``; ``main_answers`` ← each answer's name; ``answer_aliases`` ← the
  union of their aliases (and the date forms and precision years of ``fs1.data.dates``); ``answer_entities`` ←
  ``answer_id`` (Freebase MIDs, ``m.…``).
- ``answer_type``: ``entity`` for answers with a Freebase id; a literal (an answer without one, in a copy whose other
  answers have ids, as ChatKBQA's) is ``date`` / ``number`` / ``other`` by its text. A copy without any ids (the
  Think-on-Graph copy's one string) cannot tell a name from a literal: ``date`` / ``number`` by the text, else
  unset. Unset when a question mixes types.
- ``question_entities`` ← the copy's ``topic_entity`` MIDs when it has them, else the Freebase MIDs named in
  ``sparql`` (``ns:m.…``): the SPARQL's constants are the question's entities (plus constraint entities).
- ``meta`` ← ``compositionality_type``, ``machine_question``, ``composition_answer``, ``webqsp_id``,
  ``webqsp_question``, ``sparql``.
- No ``topic``: CWQ has no topic or domain field (``topic_entity`` names the question's entity, not a topic).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fs1.data.common import (
    CWQ,
    Loaded,
    answer_fields,
    as_text_list,
    expect_dict,
    is_freebase_id,
    load_json_records,
    one_type,
    require,
    value_type,
    with_precision_aliases,
)
from fs1.data.dates import date_answer
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


def _single_answer_dicts(answer: Any, where: str) -> list[dict[str, Any]]:
    """A copy's ``answer`` field (one string, or a list of Freebase ids and literals) as answer dicts."""
    if isinstance(answer, dict):
        return _answer_dicts([answer], where)
    values = as_text_list(answer if isinstance(answer, list) else [answer])
    return [{"answer_id": v} if is_freebase_id(v) else {"answer": v} for v in values]


def _literal_forms(answers: list[dict[str, Any]], question: str) -> tuple[list[str], str | None]:
    """Date aliases of the answers without an id, and the answer type of the question (module docstring)."""
    has_ids = any(a.get("answer_id") for a in answers)
    aliases: list[str] = []
    kinds: list[str | None] = []
    for answer in answers:
        if answer.get("answer_id"):
            kinds.append("entity")
            continue
        for name in as_text_list(answer.get("answer")):
            forms = date_answer(name)
            aliases += forms[1] if forms else []
            kind = "date" if forms else value_type(name, question)
            kinds.append(kind if has_ids or kind != "other" else None)
    return aliases, one_type(kinds)


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One CWQ record as a Question row, or ``None`` when it has no answer."""
    if "answers" in item:
        answers = _answer_dicts(item.get("answers"), where)
    else:
        answers = _single_answer_dicts(item.get("answer"), where)
    gold = answer_fields(
        (name, a.get("answer_id") if i == 0 else None)
        for a in answers
        for i, name in enumerate(as_text_list(a.get("answer")) or [None])
    )
    if gold is None:
        return None
    question = require(item, "question", where)
    literal_aliases, kind = _literal_forms(answers, str(question))
    aliases = [alias for a in answers for alias in as_text_list(a.get("aliases"))] + literal_aliases
    sparql = str(item.get("sparql") or "")
    topic = item.get("topic_entity")
    topic_mids = as_text_list(list(topic)) if isinstance(topic, dict) else []
    meta = {
        "compositionality_type": item.get("compositionality_type"),
        "machine_question": item.get("machine_question"),
        "composition_answer": item.get("composition_answer"),
        "webqsp_id": item.get("webqsp_ID"),
        "webqsp_question": item.get("webqsp_question"),
        "sparql": sparql or None,
    }
    for key in ("topic_entity", "qid_topic_entity", "entity_labels"):
        if key in item:
            meta[key] = item[key]
    return {
        "ID": str(require(item, "ID", where)),
        "question": question,
        "main_answers": gold["main_answers"],
        "answer_aliases": with_precision_aliases(str(question), gold["main_answers"], aliases),
        "source_of_data": CWQ,
        "answer_type": kind,
        "question_entities": topic_mids or list(dict.fromkeys(SPARQL_MID.findall(sparql))),
        "answer_entities": gold["answer_entities"],
        "meta": {**meta, **gold["marks"]},
    }


def variant_of(records: list[dict[str, Any]]) -> str:
    """Which CWQ copy the records come from, told from the first record's answer field."""
    first = records[0] if records else {}
    if isinstance(first.get("answers"), dict):
        return "CWQ, Hugging Face copy (column-wise answers)"
    if "answers" in first:
        return "CWQ, official release"
    answer = first.get("answer")
    if isinstance(answer, str) or "topic_entity" in first:
        return "CWQ, Think-on-Graph copy"
    if isinstance(answer, list):
        values = [v for r in records for v in as_text_list(r.get("answer"))]
        if values and sum(map(is_freebase_id, values)) * 2 >= len(values):
            return "CWQ, ChatKBQA copy (answers as Freebase ids)"
        return "CWQ, copy with an answer list"
    return "CWQ, official test split (no answers)"


def load_cwq(path: Path) -> Loaded:
    """Read a ComplexWebQuestions JSON or JSON Lines file (official release or a circulating copy)."""
    return load_json_records(path, "ComplexWebQuestions records", "ID", question_from_record, variant_of)
