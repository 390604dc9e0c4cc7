"""Mintaka (Sen et al., COLING 2022) in its published JSON format → Question records.

A Mintaka file is a JSON array of records::

    {"id", "question", "questionEntity": [{"name", "entityType", "label", "mention", "span"}],
     "answer": {"answerType", "answer": [...] | null, "mention", "answerNum"?},
     "category", "complexityType", "translations"?}

Field mapping (all in one place, :func:`question_from_record`):

- ``ID`` ← ``id``; ``question`` ← ``question``; ``source_of_data`` = Mintaka.
- ``question_entities`` ← ``questionEntity[].name`` where ``entityType == "entity"`` (Wikidata QIDs).
- ``answerType == "entity"``: main answers = the entities' English labels, ``answer_entities`` = their QIDs,
  aliases = the annotator's ``mention`` for a single-entity answer when it differs from the label.
- ``complexityType == "count"``: the main answer is the number (``answerNum``, else the number of listed
  entities); the counted entities go to ``meta["counted_entities"]``.
- ``boolean``: ``true``/``false`` → ``"yes"``/``"no"``; ``numerical``/``date``/``string``: the values as strings.
- ``topic`` ← ``category`` lower-cased (Mintaka's eight categories are lower case already: books, geography, …).
- ``meta``: ``complexity_type``, ``category``, ``dataset_answer_type``, ``answer_mention``, ``question_values``
  (non-entity question spans such as ordinals and dates). ``translations`` (other languages) are dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.data.common import (
    MINTAKA,
    Loaded,
    as_text_list,
    expect_dict,
    load_json_records,
    require,
    topic_label,
    without,
)

# Mintaka answer types → fs1 answer-type slices; entity answers need KG types, so they stay unset here.
ANSWER_TYPE_SLICE = {"numerical": "number", "date": "date", "boolean": "other", "string": "other"}


def _english_label(label: Any) -> str:
    """Entity labels are plain strings in the dev sample; a per-language dict (``{"en": …}``) is also accepted
    because some released copies store labels that way (uncertain which one the full release uses)."""
    if isinstance(label, dict):
        return str(label.get("en") or "")
    return "" if label is None else str(label)


def _answer_strings(
    answer: dict[str, Any], values: list[Any], complexity: str
) -> tuple[list[str], list[str]]:
    """Main answers and answer QIDs for one record."""
    kind = answer.get("answerType")
    if complexity == "count":
        count = answer.get("answerNum")
        if count is None and values and all(isinstance(v, dict) for v in values):
            count = len(values)
        elif count is None and values:
            count = values[0]
        return ([] if count is None else [str(count)]), []
    if kind == "entity":
        entities = [v for v in values if isinstance(v, dict)]
        labels = [_english_label(v.get("label")) for v in entities]
        return as_text_list(labels), as_text_list([v.get("name") for v in entities])
    if kind == "boolean":
        return ["yes" if v else "no" for v in values if isinstance(v, bool)], []
    return as_text_list(values), []


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One Mintaka record as a Question row, or ``None`` when it has no gold answer."""
    answer = expect_dict(require(item, "answer", where), f"{where}: field answer")
    complexity = str(item.get("complexityType") or "")
    values = answer.get("answer") or []
    values = values if isinstance(values, list) else [values]
    main, answer_qids = _answer_strings(answer, values, complexity)
    if not main:
        return None
    mention = as_text_list(answer.get("mention"))
    q_entities = item.get("questionEntity") or []
    kind = answer.get("answerType")
    meta = {
        "complexity_type": complexity,
        "category": item.get("category"),
        "dataset_answer_type": kind,
        "answer_mention": answer.get("mention"),
        "question_values": [e for e in q_entities if isinstance(e, dict) and e.get("entityType") != "entity"],
    }
    if complexity == "count":
        meta["counted_entities"] = [v.get("name") for v in values if isinstance(v, dict)]
    return {
        "ID": str(require(item, "id", where)),
        "question": require(item, "question", where),
        "main_answers": main,
        # The mention is the annotator's surface form: a useful alias for a single entity, but for several
        # answers it is their comma-joined list, which no answer should have to contain.
        "answer_aliases": without(mention, main)
        if kind == "entity" and complexity != "count" and len(main) == 1
        else [],
        "source_of_data": MINTAKA,
        "question_entities": [
            str(e["name"]) for e in q_entities if isinstance(e, dict) and e.get("entityType") == "entity"
        ],
        "answer_entities": answer_qids,
        "answer_type": "number" if complexity == "count" else ANSWER_TYPE_SLICE.get(str(kind)),
        "topic": topic_label(item.get("category")),
        "meta": meta,
    }


def variant_of(records: list[dict[str, Any]]) -> str:
    """v1.1 stores labels per language (``{"en": …}``) and adds ``supportingEnt``/``supportingNum``."""
    for record in records:
        raw = record.get("answer")
        answer: dict[str, Any] = raw if isinstance(raw, dict) else {}
        listed = answer.get("answer")
        values: list[Any] = listed if isinstance(listed, list) else []
        if {"supportingEnt", "supportingNum"} & set(answer) or any(
            isinstance(v, dict) and isinstance(v.get("label"), dict) for v in values
        ):
            return "Mintaka v1.1"
    return "Mintaka v1.0"


def load_mintaka(path: Path) -> Loaded:
    """Read a Mintaka JSON or JSON Lines file (records with or without ``translations``)."""
    return load_json_records(path, "Mintaka records", "id", question_from_record, variant_of)
