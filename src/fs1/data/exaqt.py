"""ExaQT's TimeQuestions (Jia et al., CIKM 2021) in its published JSON format → Question records.

A TimeQuestions file (``train.json``/``dev.json``/``test.json``) is a JSON array of records::

    {"Id", "Question", "Temporal signal": [...], "Temporal question type": [...],
     "Answer": [{"AnswerType": "Entity", "WikidataQid", "WikidataLabel", "WikipediaURL"}
                | {"AnswerType": "Value", "AnswerArgument": "1994-03-01T00:00:00Z"}],
     "Data source", "Question creation date", "Data set"}

Answer keys are read case-insensitively (some redistributed copies lower-case them).

Field mapping:

- ``ID`` ← ``Id``; ``question`` ← ``Question`` (lower-case in the release).
- Entity answers: ``WikidataLabel`` → main answers, ``WikidataQid`` → ``answer_entities``; an entity without a label
  keeps its QID only (``common.answer_fields``: a question whose answers are all such ids is marked and left out of
  scoring until ``fs1 data convert --kg`` labels it).
- Value answers: dates by the one date policy of ``fs1.data.dates`` (``1994-03-01`` with ``1 March 1994`` /
  ``March 1, 1994`` aliases; a Wikidata timestamp on 1 January also accepts the bare year; a BCE timestamp
  ``-0500-…`` becomes ``500 BC`` with ``500 BCE`` / ``-500``: historical numbering, an unverified assumption, see
  ``docs/protocol.md`` "Eras"), the year of a full date for a "what year" question.
  Other values (numbers, version strings such as ``7.11.1``) are kept as text.
- ``answer_type``: ``entity``, ``date``, ``number`` or ``other`` when every answer has that type, else unset.
- ``meta`` ← ``temporal_signal``, ``temporal_question_type``, ``data_source``, ``question_creation_date``,
  ``data_set``.
- No ``topic``: TimeQuestions has no topic field (``Data source`` names the dataset a question came from).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.data.common import (
    EXAQT,
    Loaded,
    answer_fields,
    expect_dict,
    load_json_records,
    one_type,
    require,
    value_type,
    with_precision_aliases,
)
from fs1.data.dates import date_answer
from fs1.io import InputError


def _lower_keys(answer: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in answer.items()}


def _answers(
    answers: list[dict[str, Any]], question: str
) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """The gold fields (``common.answer_fields``), the date aliases and the answer-type slice of one record."""
    pairs: list[tuple[Any, Any]] = []
    aliases: list[str] = []
    kinds: list[str | None] = []
    for answer in answers:
        if str(answer.get("answertype", "")).lower() == "entity":
            pairs.append((answer.get("wikidatalabel"), answer.get("wikidataqid")))
            kinds.append("entity")
            continue
        value = str(answer.get("answerargument") or "").strip()
        if not value:
            continue
        forms = date_answer(value)
        pairs.append((forms[0] if forms else value, None))
        aliases += forms[1] if forms else []
        kinds.append("date" if forms else value_type(value, question))
    return answer_fields(pairs), aliases, one_type(kinds)


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One TimeQuestions record as a Question row, or ``None`` when it has no answer."""
    answers = item.get("Answer") or []
    if not isinstance(answers, list):
        raise InputError(f"{where}: field Answer must be a list")
    answers = [_lower_keys(expect_dict(a, f"{where}: Answer[{i}]")) for i, a in enumerate(answers)]
    question = require(item, "Question", where)
    gold, aliases, kind = _answers(answers, str(question))
    if gold is None:
        return None
    main = gold["main_answers"]
    return {
        "ID": str(require(item, "Id", where)),
        "question": question,
        "main_answers": main,
        "answer_aliases": with_precision_aliases(str(question), main, aliases),
        "source_of_data": EXAQT,
        "answer_entities": gold["answer_entities"],
        "answer_type": kind,
        "meta": {
            "temporal_signal": item.get("Temporal signal", []),
            "temporal_question_type": item.get("Temporal question type", []),
            "data_source": item.get("Data source"),
            "question_creation_date": item.get("Question creation date"),
            "data_set": item.get("Data set"),
            **gold["marks"],
        },
    }


def load_exaqt(path: Path) -> Loaded:
    """Read a TimeQuestions JSON or JSON Lines file."""
    return load_json_records(path, "TimeQuestions records", "Id", question_from_record, variant_of)


def variant_of(records: list[dict[str, Any]]) -> str:
    return "TimeQuestions (ExaQT release)"
