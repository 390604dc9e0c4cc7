"""WebQuestionsSP (Yih et al., 2016) in its published JSON format (``WebQSP.{train,test}.json``) → Question records.

The official file is one object ``{"Version", "FreebaseVersion", "Questions": [...]}``; copies drop the wrapper
(a plain JSON list, or JSON Lines, sometimes with ToG's ``topic_entity``/``qid_topic_entity``). Each question is::

    {"QuestionId", "RawQuestion", "ProcessedQuestion",
     "Parses": [{"ParseId", "TopicEntityMid", "TopicEntityName", "InferentialChain", "Sparql", …,
                 "Answers": [{"AnswerType": "Entity" | "Value", "AnswerArgument", "EntityName"}]}]}

Field mapping:

- ``ID`` ← ``QuestionId``; ``question`` ← ``RawQuestion`` (``ProcessedQuestion`` when the raw text is missing).
- Gold = the union over all parses: an ``Entity`` answer contributes its ``EntityName`` (and its MID
  ``AnswerArgument`` to ``answer_entities``), a ``Value`` answer its ``AnswerArgument``. ``Answers`` may be
  ``null`` (the test file's partial parses); an entity with an empty ``EntityName`` is an unlabelled id.
- Date values by the one date policy of ``fs1.data.dates``: ``1841-03-04`` gets ``4 March 1841`` /
  ``March 4, 1841``, and the year ``1841`` when the question asks "what year".
- ``answer_type`` ← ``AnswerType``: ``entity`` for Entity answers, ``date`` / ``number`` / ``other`` for Value
  answers by their text; unset when a question mixes them.
- ``question_entities`` ← every parse's ``TopicEntityMid`` (Freebase MIDs, ``m.…``).
- ``meta`` ← ``topic_entity_mids``, ``topic_entity_names``, ``inferential_chains``, ``parse_ids``,
  ``processed_question``.
- No ``topic``: WebQSP has no topic or domain field (``TopicEntity*`` name the question's entity, not a topic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.data.common import (
    WEBQSP,
    Loaded,
    answer_fields,
    as_text_list,
    expect_dict,
    load_json_records,
    one_type,
    require,
    value_type,
    with_precision_aliases,
)
from fs1.data.dates import date_answer
from fs1.io import InputError


def _answers(
    parses: list[dict[str, Any]], question: str, where: str
) -> tuple[list[tuple[Any, Any]], list[str], str | None]:
    """``(label, MID)`` per answer (union over parses in order of appearance), date aliases, answer type."""
    pairs: list[tuple[Any, Any]] = []
    aliases: list[str] = []
    kinds: list[str | None] = []
    for p_index, parse in enumerate(parses):
        answers = parse.get("Answers") or []
        if not isinstance(answers, list):
            raise InputError(f"{where}: Parses[{p_index}].Answers must be a list")
        for answer in answers:
            answer = expect_dict(answer, f"{where}: Parses[{p_index}].Answers")
            if answer.get("AnswerType") == "Entity":
                pairs.append((answer.get("EntityName"), answer.get("AnswerArgument")))
                kinds.append("entity")
                continue
            value = str(answer.get("AnswerArgument") or "").strip()
            forms = date_answer(value)
            pairs.append((forms[0] if forms else value, None))
            aliases += forms[1] if forms else []
            kinds.append(value_type(value, question) if value else None)
    return pairs, aliases, one_type(kinds)


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One WebQSP question as a Question row, or ``None`` when no parse has an answer."""
    parses = item.get("Parses") or []
    if not isinstance(parses, list):
        raise InputError(f"{where}: field Parses must be a list")
    parses = [expect_dict(p, f"{where}: Parses[{i}]") for i, p in enumerate(parses)]
    question = item.get("RawQuestion") or require(item, "ProcessedQuestion", where)
    pairs, aliases, kind = _answers(parses, str(question), where)
    gold = answer_fields(pairs)
    if gold is None:
        return None
    topic_mids = as_text_list([p.get("TopicEntityMid") for p in parses])
    meta = {
        "topic_entity_mids": topic_mids,
        "topic_entity_names": as_text_list([p.get("TopicEntityName") for p in parses]),
        "inferential_chains": [p.get("InferentialChain") for p in parses],
        "parse_ids": [p.get("ParseId") for p in parses],
        "processed_question": item.get("ProcessedQuestion"),
    }
    for key in ("topic_entity", "qid_topic_entity", "entity_labels"):
        if key in item:
            meta[key] = item[key]
    return {
        "ID": str(require(item, "QuestionId", where)),
        "question": question,
        "main_answers": gold["main_answers"],
        "answer_aliases": with_precision_aliases(str(question), gold["main_answers"], aliases),
        "source_of_data": WEBQSP,
        "answer_type": kind,
        "question_entities": topic_mids,
        "answer_entities": gold["answer_entities"],
        "meta": {**meta, **gold["marks"]},
    }


def variant_of(records: list[dict[str, Any]]) -> str:
    first = records[0] if records else {}
    return "WebQSP, Think-on-Graph copy" if "topic_entity" in first else "WebQSP"


def load_webqsp(path: Path) -> Loaded:
    """Read a WebQSP file: the official wrapped JSON, or a plain JSON list / JSON Lines of questions."""
    loaded = load_json_records(
        path, "WebQSP questions", "QuestionId", question_from_record, variant_of, wrapper_key="Questions"
    )
    wrapped = ", JSON with wrapper"
    if loaded.variant.endswith(wrapped):
        loaded.variant = loaded.variant.removesuffix(wrapped) + ", official wrapper"
    else:
        loaded.variant += ", wrapper dropped"
    return loaded
