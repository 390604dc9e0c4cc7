"""Mintaka (Sen et al., COLING 2022) in its published JSON format → Question records.

A Mintaka file is a JSON array of records::

    {"id", "question", "questionEntity": [{"name", "entityType", "label", "mention", "span"}],
     "answer": {"answerType", "answer": [...] | null, "mention", "answerNum"?},
     "category", "complexityType", "translations"?}

Field mapping (all in one place, :func:`question_from_record`):

- ``ID`` ← ``id``; ``question`` ← ``question``; ``source_of_data`` = Mintaka.
- ``question_entities`` ← ``questionEntity[].name`` where ``entityType == "entity"`` (Wikidata QIDs); an entity
  with a null ``name`` (not linked) is left out, never written as the string "None".
- ``answerType == "entity"``: main answers = the entities' English labels, ``answer_entities`` = their QIDs,
  aliases = the annotator's ``mention`` for a single-entity answer when it differs from the label. An entity
  without a label keeps its QID in ``answer_entities``; with no label at all the ``mention`` is the gold, as below.
- ``answer`` null (no entity linked, or no value given): the annotator's ``mention`` is the gold, as Mintaka's
  official evaluation (``evaluate/evaluate.py``, text mode) does; without a mention the record has no gold.
- ``complexityType == "count"``: the main answer is the number (``answerNum``, else the number of listed
  entities, else the ``mention``); the counted entities go to ``meta["counted_entities"]``.
- ``boolean``: ``true``/``false`` → ``"yes"``/``"no"``; ``numerical``/``date``/``string``: the values as strings
  (dates by the one date policy of ``fs1.data.dates``).
- ``answerNum`` is kept as ``meta["answer_num"]`` on every record that has it. Outside count questions it is **not**
  an alias: Mintaka's official gold is the entity ("James Ivory" for "who won the most Academy Awards…",
  ``answerNum`` 89), and the paper's containment judge accepts only what is in the gold list.
- ``answer_type`` ← ``answerType`` in the one vocabulary (``fs1.vocab.ANSWER_TYPES``): entity → ``entity``,
  numerical → ``number``, date → ``date``, boolean and string → ``other``; count questions → ``number``.
- ``topic`` ← ``category`` lower-cased (Mintaka's eight categories are lower case already: books, geography, …).
- ``meta``: ``complexity_type``, ``category``, ``dataset_answer_type``, ``answer_mention``, ``question_values``
  (non-entity question spans such as ordinals and dates), ``answer_num``; ``gold_from_mention`` when the mention
  is the gold (from ``common.answer_fields`` marks). ``translations`` (other languages) are dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.data.common import (
    MINTAKA,
    Loaded,
    answer_fields,
    as_text_list,
    expect_dict,
    load_json_records,
    require,
    topic_label,
    with_precision_aliases,
    without,
)
from fs1.data.dates import date_answer

# Mintaka answer types → the answer-type vocabulary (fs1.vocab.ANSWER_TYPES).
ANSWER_TYPE_SLICE = {
    "entity": "entity",
    "numerical": "number",
    "date": "date",
    "boolean": "other",
    "string": "other",
}


def _english_label(label: Any) -> str:
    """Entity labels are plain strings in v1.0 and a per-language dict (``{"en": …}``, nulls allowed) in v1.1."""
    if isinstance(label, dict):
        return str(label.get("en") or "")
    return "" if label is None else str(label)


def _count(answer: dict[str, Any], values: list[Any]) -> list[str]:
    count = answer.get("answerNum")
    if count is None and values and all(isinstance(v, dict) for v in values):
        count = len(values)
    elif count is None and values:
        count = values[0]
    return [] if count is None else [str(count)]


def _gold(
    answer: dict[str, Any], values: list[Any], complexity: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The gold fields (``common.answer_fields``; marks include ``gold_from_mention`` when the mention stands in for
    a missing answer) and the date aliases of one record."""
    kind = answer.get("answerType")
    mention = [(m, None) for m in as_text_list(answer.get("mention"))]
    if complexity == "count":
        counted = _count(answer, values)
        if not counted:  # neither answerNum nor entities to count: the annotator's text, as below
            return _from_mention(answer_fields(mention)), []
        return answer_fields((n, None) for n in counted), []
    if kind == "entity":
        entities = [v for v in values if isinstance(v, dict)]
        pairs = [(_english_label(v.get("label")), v.get("name")) for v in entities]
        if any(label for label, _ in pairs) or not mention:
            return answer_fields(pairs), []
        return _from_mention(answer_fields(pairs + mention)), []  # no label: the annotator's text is the gold
    if kind == "boolean":
        texts = ["yes" if v else "no" for v in values if isinstance(v, bool)]
    else:
        texts = as_text_list(values)
    if not texts:
        return _from_mention(answer_fields(mention)), []
    forms = [date_answer(t) for t in texts] if kind == "date" else []
    aliases = [alias for found in forms if found for alias in found[1]]
    return answer_fields((t, None) for t in texts), aliases


def _from_mention(gold: dict[str, Any] | None) -> dict[str, Any] | None:
    if gold is not None:
        gold["marks"]["gold_from_mention"] = True
    return gold


def _question_entities(q_entities: list[Any]) -> list[str]:
    names = [e.get("name") for e in q_entities if isinstance(e, dict) and e.get("entityType") == "entity"]
    return [str(name) for name in names if name is not None and str(name).strip()]


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One Mintaka record as a Question row, or ``None`` when it has no gold answer."""
    answer = expect_dict(require(item, "answer", where), f"{where}: field answer")
    complexity = str(item.get("complexityType") or "")
    values = answer.get("answer")
    values = [] if values is None else values if isinstance(values, list) else [values]
    gold, date_aliases = _gold(answer, values, complexity)
    if gold is None:
        return None
    main = gold["main_answers"]
    mention = as_text_list(answer.get("mention"))
    q_entities = item.get("questionEntity") or []
    kind = answer.get("answerType")
    question = require(item, "question", where)
    meta: dict[str, Any] = {
        "complexity_type": complexity,
        "category": item.get("category"),
        "dataset_answer_type": kind,
        "answer_mention": answer.get("mention"),
        "question_values": [e for e in q_entities if isinstance(e, dict) and e.get("entityType") != "entity"],
        **gold["marks"],
    }
    if answer.get("answerNum") is not None:
        meta["answer_num"] = answer["answerNum"]
    if complexity == "count":
        meta["counted_entities"] = [v.get("name") for v in values if isinstance(v, dict)]
    # The mention is the annotator's surface form: a useful alias for a single entity, but for several answers it is
    # their comma-joined list, which no answer should have to contain.
    single_entity = kind == "entity" and complexity != "count" and len(main) == 1
    return {
        "ID": str(require(item, "id", where)),
        "question": question,
        "main_answers": main,
        "answer_aliases": with_precision_aliases(
            str(question), main, without(mention, main) if single_entity else date_aliases
        ),
        "source_of_data": MINTAKA,
        "question_entities": _question_entities(q_entities),
        "answer_entities": gold["answer_entities"],
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
