"""WebQuestionsSP (Yih et al., 2016) in its published JSON format (``WebQSP.{train,test}.json``) → Question records.

The file is one object ``{"Version", "FreebaseVersion", "Questions": [...]}``; each question is::

    {"QuestionId", "RawQuestion", "ProcessedQuestion",
     "Parses": [{"ParseId", "TopicEntityMid", "TopicEntityName", "InferentialChain", "Sparql", …,
                 "Answers": [{"AnswerType": "Entity" | "Value", "AnswerArgument", "EntityName"}]}]}

Field mapping:

- ``ID`` ← ``QuestionId``; ``question`` ← ``RawQuestion`` (``ProcessedQuestion`` when the raw text is missing).
- Gold = the union over all parses: an ``Entity`` answer contributes its ``EntityName`` (and its MID
  ``AnswerArgument`` to ``answer_entities``), a ``Value`` answer its ``AnswerArgument``.
- ``question_entities`` ← every parse's ``TopicEntityMid`` (Freebase MIDs, ``m.…``).
- ``meta`` ← ``topic_entity_mids``, ``topic_entity_names``, ``inferential_chains``, ``parse_ids``,
  ``processed_question``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.data.common import (
    WEBQSP,
    Loaded,
    as_text_list,
    expect_dict,
    finish,
    make_question,
    read_json_document,
    require,
)
from fs1.io import InputError


def _parse_answers(parses: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Answer strings and answer MIDs, union over parses, order of first appearance kept."""
    names: list[str] = []
    mids: list[str] = []
    for parse in parses:
        for answer in parse.get("Answers") or []:
            if answer.get("AnswerType") == "Entity":
                names += as_text_list(answer.get("EntityName"))
                mids += as_text_list(answer.get("AnswerArgument"))
            else:
                names += as_text_list(answer.get("AnswerArgument"))
    return as_text_list(names), as_text_list(mids)


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One WebQSP question as a Question row, or ``None`` when no parse has an answer."""
    parses = item.get("Parses") or []
    if not isinstance(parses, list):
        raise InputError(f"{where}: field Parses must be a list")
    parses = [expect_dict(p, f"{where}: Parses[{i}]") for i, p in enumerate(parses)]
    main, mids = _parse_answers(parses)
    if not main:
        return None
    topic_mids = as_text_list([p.get("TopicEntityMid") for p in parses])
    return {
        "ID": str(require(item, "QuestionId", where)),
        "question": item.get("RawQuestion") or require(item, "ProcessedQuestion", where),
        "main_answers": main,
        "source_of_data": WEBQSP,
        "question_entities": topic_mids,
        "answer_entities": mids,
        "meta": {
            "topic_entity_mids": topic_mids,
            "topic_entity_names": as_text_list([p.get("TopicEntityName") for p in parses]),
            "inferential_chains": [p.get("InferentialChain") for p in parses],
            "parse_ids": [p.get("ParseId") for p in parses],
            "processed_question": item.get("ProcessedQuestion"),
        },
    }


def load_webqsp(path: Path) -> Loaded:
    """Read a WebQSP JSON file."""
    doc = read_json_document(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("Questions"), list):
        raise InputError(f'{path}: not the WebQSP format (expected an object with a "Questions" array)')
    questions, skipped = [], []
    for index, raw in enumerate(doc["Questions"]):
        item = expect_dict(raw, f"{path}: Questions[{index}]")
        where = f"{path}: Questions[{index}]" + (f" ({item['QuestionId']})" if "QuestionId" in item else "")
        try:
            row = question_from_record(item, where)
        except AttributeError as exc:
            raise InputError(f"{where}: malformed WebQSP answer ({exc})") from None
        if row is None:
            skipped.append(str(item.get("QuestionId", index)))
            continue
        questions.append(make_question(row, where))
    return finish(questions, skipped, path)
