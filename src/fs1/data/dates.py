"""One date-precision policy for every dataset (``docs/protocol.md`` §3), used by every loader and by the scorer.

A date answer has a precision: a day (``1841-03-04``, ``4 March 1841``, ``March 4, 1841``), a month (``1841-03``,
``March 1841``) or a year (``1841``). The rules:

1. An answer at a finer precision than the gold is right: the normaliser writes dates year first, so the gold
   ``1841`` is found in ``4 March 1841`` and ``March 1841`` in ``March 4, 1841``. Nothing here is needed for that.
2. An answer at a coarser precision than the gold is wrong (``1841`` for a gold ``1841-03-04``), unless
   3. the question asks for the year ("what year", "which year", "in what years"): then the gold's year is an alias
      (WebQSP "what year did William Henry Harrison become president?" ``1841-03-04`` accepts ``1841``); or
   4. the gold is a Wikidata timestamp on 1 January (``1961-01-01T00:00:00Z``, as TimeQuestions writes answers):
      Wikidata's query service writes a year-precision date that way, so the year is an alias whatever the
      question asks. A plain ISO ``1961-01-01`` (Freebase, WebQSP) is a real 1 January and gets no alias.
5. A BCE year keeps its era (``-0500`` is ``500 BC``), in the main answer and in every alias.

``date_answer`` turns a dataset's date value into the main answer and spelled-out aliases (the LLM judge and readers
see ``4 March 1841`` next to ``1841-03-04``); ``precision_aliases`` applies rules 3 and 4 to a question's gold list.
Loaders add both to ``answer_aliases``; the scorer adds ``precision_aliases`` again when it reads a benchmark, so a
fs1-format file written without them scores the same as the dataset's own file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

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
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(MONTHS, 1)}
_MONTH_ALT = "|".join(MONTHS)

TIMESTAMP = re.compile(r"^([+-]?)(\d{1,})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}Z$")
_ISO = re.compile(r"^(-?)(\d{4})-(\d{2})(?:-(\d{2}))?$")
_DAY_MONTH_YEAR = re.compile(rf"^(\d{{1,2}})\s+({_MONTH_ALT})\s+(\d{{1,4}})$", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"^({_MONTH_ALT})\s+(\d{{1,2}}),?\s+(\d{{1,4}})$", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"^({_MONTH_ALT})\s+(\d{{3,4}})$", re.IGNORECASE)
YEAR_QUESTION = re.compile(r"\b(?:what|which)\s+years?\b", re.IGNORECASE)


@dataclass(frozen=True)
class DateValue:
    """A date with its precision: ``month``/``day`` are ``None`` when coarser; ``year`` < 0 is BCE."""

    year: int
    month: int | None = None
    day: int | None = None
    wikidata: bool = False  # written as a Wikidata timestamp (``…T00:00:00Z``)

    @property
    def year_text(self) -> str:
        return f"{-self.year} BC" if self.year < 0 else str(self.year)


def parse_date(text: str) -> DateValue | None:
    """The date a gold answer or dataset value writes, or ``None`` when it is no date (a bare number is none)."""
    text = text.strip()
    if match := TIMESTAMP.match(text):
        return _timestamp(match)
    if match := _ISO.match(text):
        sign, year, month, day = match.groups()
        return _checked(int(year) * (-1 if sign else 1), int(month), int(day) if day else None)
    if match := _DAY_MONTH_YEAR.match(text):
        day, month, year = match.groups()
        return _checked(int(year), _MONTH_NUMBER[month.lower()], int(day))
    if match := _MONTH_DAY_YEAR.match(text):
        month, day, year = match.groups()
        return _checked(int(year), _MONTH_NUMBER[month.lower()], int(day))
    if match := _MONTH_YEAR.match(text):
        month, year = match.groups()
        return _checked(int(year), _MONTH_NUMBER[month.lower()], None)
    return None


def _timestamp(match: re.Match[str]) -> DateValue | None:
    sign, year, month, day = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
    if sign == "-":  # BCE: Wikidata's year -500 is 500 BC; its month and day say nothing more
        return DateValue(-year, wikidata=True)
    if month == 0:  # Wikidata writes month/day 00 at year precision
        return DateValue(year, wikidata=True)
    return _checked(year, month, day or None, wikidata=True)


def _checked(year: int, month: int, day: int | None, wikidata: bool = False) -> DateValue | None:
    if year == 0 or not 1 <= month <= 12:
        return None
    if day is not None and year > 0:
        try:
            date(year, month, day)
        except ValueError:
            return None
    return DateValue(year, month, day, wikidata)


def date_answer(value: str) -> tuple[str, list[str]] | None:
    """``(main answer, aliases)`` for a dataset's date value: ISO main answer, then the spelled-out forms and the
    precision aliases of rule 4 (``None`` when ``value`` is no date)."""
    parsed = parse_date(value)
    if parsed is None:
        return None
    if parsed.year < 0:  # BCE: no calendar date to spell out
        years = -parsed.year
        return f"{years} BC", [f"{years} BCE", f"-{years}"]
    if parsed.month is None:
        return f"{parsed.year:04d}", []
    name = MONTHS[parsed.month - 1]
    if parsed.day is None:
        return f"{parsed.year:04d}-{parsed.month:02d}", [f"{name} {parsed.year}"]
    main = f"{parsed.year:04d}-{parsed.month:02d}-{parsed.day:02d}"
    aliases = [f"{parsed.day} {name} {parsed.year}", f"{name} {parsed.day}, {parsed.year}"]
    if _year_precision(parsed):
        aliases.append(parsed.year_text)
    return main, aliases


def _year_precision(parsed: DateValue) -> bool:
    """Rule 4: a Wikidata timestamp on 1 January is a year-precision date."""
    return parsed.wikidata and (parsed.month, parsed.day) == (1, 1)


def asks_for_year(question: str) -> bool:
    """Does the question ask for a year ("what year", "which year", "in what years")?"""
    return YEAR_QUESTION.search(question) is not None


def precision_aliases(question: str, gold: list[str] | tuple[str, ...]) -> list[str]:
    """The years rules 3 and 4 accept for ``gold`` (not already in it), in gold order."""
    year_question = asks_for_year(question)
    out: list[str] = []
    for answer in gold:
        parsed = parse_date(answer)
        if parsed is None or parsed.month is None:
            continue
        if year_question or _year_precision(parsed):
            out.append(parsed.year_text)
    present = set(gold)
    return [year for year in dict.fromkeys(out) if year not in present]
