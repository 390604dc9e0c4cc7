"""ExaQT's TimeQuestions (Jia et al., CIKM 2021) in its published JSON format → Question records.

A TimeQuestions file (``train.json``/``dev.json``/``test.json``) is a JSON array of records::

    {"Id", "Question", "Temporal signal": [...], "Temporal question type": [...],
     "Answer": [{"AnswerType": "Entity", "WikidataQid", "WikidataLabel", "WikipediaURL"}
                | {"AnswerType": "Value", "AnswerArgument": "1994-03-01T00:00:00Z"}],
     "Data source", "Question creation date", "Data set"}

Answer keys are read case-insensitively (some redistributed copies lower-case them).

Field mapping:

- ``ID`` ← ``Id``; ``question`` ← ``Question`` (lower-case in the release).
- Entity answers: ``WikidataLabel`` → main answers, ``WikidataQid`` → ``answer_entities``.
- Value answers: Wikidata timestamps become ``YYYY-MM-DD`` with ``1 March 1994`` / ``March 1, 1994`` aliases; a
  ``YYYY-01-01`` timestamp also gets the bare year as an alias (Wikidata stores year-precision dates that way;
  uncertain per question, so the full date stays the main answer). A BCE timestamp (``-0500-…``) becomes
  ``500 BC``. Other values (numbers, version strings such as ``7.11.1``) are kept as text.
- ``answer_type``: date when every answer is a timestamp, number when every answer is numeric, else unset.
- ``meta`` ← ``temporal_signal``, ``temporal_question_type``, ``data_source``, ``question_creation_date``,
  ``data_set``.
- No ``topic``: TimeQuestions has no topic field (``Data source`` names the dataset a question came from).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from fs1.data.common import (
    EXAQT,
    Loaded,
    as_text_list,
    expect_dict,
    load_json_records,
    require,
    without,
)
from fs1.io import InputError

TIMESTAMP = re.compile(r"^([+-]?)(\d{4,})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}Z$")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
# English month names spelled out here: strftime("%B") would follow the process locale.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _lower_keys(answer: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in answer.items()}


def date_forms(value: str) -> tuple[str, list[str]] | None:
    """``(YYYY-MM-DD, aliases)`` for a Wikidata timestamp, else ``None``."""
    match = TIMESTAMP.match(value.strip())
    if not match:
        return None
    sign, (year, month, day) = match.group(1), (int(g) for g in match.groups()[1:])
    if sign == "-":  # BCE: no calendar date to spell out; Wikidata's year -500 is 500 BC
        return f"{year} BC", [f"{year} BCE", f"-{year}"]
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    try:
        date(year, month, day)
    except ValueError:  # Wikidata uses month/day 00 for lower precision
        return f"{year:04d}", []
    name = MONTHS[month - 1]
    aliases = [f"{day} {name} {year}", f"{name} {day}, {year}"]
    if (month, day) == (1, 1):
        aliases.append(str(year))
    return iso, aliases


def _answers(answers: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], str | None]:
    """Main answers, aliases, answer QIDs and the answer-type slice."""
    main, aliases, qids, kinds = [], [], [], set()
    for answer in answers:
        if str(answer.get("answertype", "")).lower() == "entity":
            main += as_text_list(answer.get("wikidatalabel"))
            qids += as_text_list(answer.get("wikidataqid"))
            kinds.add("entity")
            continue
        value = str(answer.get("answerargument") or "").strip()
        forms = date_forms(value)
        if forms:
            main.append(forms[0])
            aliases += forms[1]
            kinds.add("date")
        elif value:
            main.append(value)
            kinds.add("number" if NUMBER.match(value) else "other")
    kind = next(iter(kinds)) if len(kinds) == 1 and kinds <= {"date", "number"} else None
    return as_text_list(main), aliases, as_text_list(qids), kind


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One TimeQuestions record as a Question row, or ``None`` when it has no answer."""
    answers = item.get("Answer") or []
    if not isinstance(answers, list):
        raise InputError(f"{where}: field Answer must be a list")
    answers = [_lower_keys(expect_dict(a, f"{where}: Answer[{i}]")) for i, a in enumerate(answers)]
    main, aliases, qids, kind = _answers(answers)
    if not main:
        return None
    return {
        "ID": str(require(item, "Id", where)),
        "question": require(item, "Question", where),
        "main_answers": main,
        "answer_aliases": without(aliases, main),
        "source_of_data": EXAQT,
        "answer_entities": qids,
        "answer_type": kind,
        "meta": {
            "temporal_signal": item.get("Temporal signal", []),
            "temporal_question_type": item.get("Temporal question type", []),
            "data_source": item.get("Data source"),
            "question_creation_date": item.get("Question creation date"),
            "data_set": item.get("Data set"),
        },
    }


def load_exaqt(path: Path) -> Loaded:
    """Read a TimeQuestions JSON or JSON Lines file."""
    return load_json_records(path, "TimeQuestions records", "Id", question_from_record, variant_of)


def variant_of(records: list[dict[str, Any]]) -> str:
    return "TimeQuestions (ExaQT release)"
