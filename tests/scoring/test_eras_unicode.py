"""Eras and Unicode in scoring: a BCE year matches only BCE answers, and invisible or compatibility characters in a
gold or an answer never change a verdict (issue #27 item 1, #31 item 8). Expected verdicts are written by hand."""

from __future__ import annotations

import pytest

from fs1.scoring.extract import extract_answer
from fs1.scoring.match import match_answer
from fs1.scoring.normalize import normalize_answer

BCE_GOLD = ["3500 BC", "3500 BCE", "-3500"]  # what the TimeQuestions loader gives a -3500 timestamp

BCE_RIGHT = [
    "3500 BC",
    "3500 BCE",
    "-3500",
    "3500 B.C.",
    "3500 B.C.E.",
    "3500 bc",
    "3,500 BC",
    "around 3500 BC",
    "It was founded in 3500 BCE.",
    "3500 before Christ",
    "3500 before the common era",
    "−3500",  # U+2212 minus sign
    "three thousand five hundred BC",
]
BCE_WRONG = ["3500", "3500 AD", "AD 3500", "3500 CE", "in the year 3500", "350 BC", "35000 BC", "3501 BC"]


@pytest.mark.parametrize("answer", BCE_RIGHT)
def test_a_bce_gold_matches_every_bce_spelling(answer: str) -> None:
    assert match_answer(answer, BCE_GOLD).correct, answer
    assert match_answer(answer, ["3500 BC"]).correct, answer  # one spelling of the gold is enough


@pytest.mark.parametrize("answer", BCE_WRONG)
def test_a_bce_gold_never_matches_a_bare_or_ad_year(answer: str) -> None:
    assert not match_answer(answer, BCE_GOLD).correct, answer


@pytest.mark.parametrize("answer", ["3500 BC", "-3500", "3500 B.C.", "3500 BCE", "around 3500 BC"])
def test_an_ad_gold_never_matches_a_bce_answer(answer: str) -> None:
    assert not match_answer(answer, ["3500"]).correct, answer
    assert not match_answer(answer, ["3500 AD"]).correct, answer


@pytest.mark.parametrize("answer", ["1066", "AD 1066", "1066 AD", "1066 CE", "1066 A.D.", "in 1066"])
def test_ad_and_ce_only_confirm_the_default_era(answer: str) -> None:
    assert match_answer(answer, ["1066"]).correct, answer
    assert match_answer(answer, ["AD 1066"]).correct, answer


def test_era_tokens_in_dates_centuries_and_leading_zeros() -> None:
    assert normalize_answer("-3500") == normalize_answer("3500 BC") == "3500bce"
    assert normalize_answer("-0500") == normalize_answer("500 BC")  # Wikidata's zero-padded years
    assert match_answer("15 March 44 BC", ["44 BC"]).correct  # a BCE year in a full date
    assert not match_answer("15 March 44", ["44 BC"]).correct
    assert not match_answer("15 March 44 BC", ["44"]).correct
    assert match_answer("5th century BC", ["5th century BCE"]).correct
    assert not match_answer("5th century BC", ["5th century"]).correct
    assert match_answer("-0500-03-01T00:00:00Z", ["1 March 500 BC"]).correct
    assert match_answer("929", ["0929-01-01T00:00:00Z", "929"]).correct
    assert match_answer("1 January 929", ["0929-01-01"]).correct  # years lose leading zeros


def test_era_words_that_are_not_eras_stay() -> None:
    assert normalize_answer("Vancouver, BC") == "vancouver bc"  # British Columbia: no number before it
    assert normalize_answer("1939-1945") == "1939 1945"  # a range: the dash follows a number
    assert not match_answer("-40", ["40"]).correct  # the sign of any number is kept
    assert match_answer("-40 degrees", ["-40"]).correct


# One case per class of character: (answer, gold, description).
UNICODE_CASES = [
    ("Pa\u200bris", "Paris", "zero-width space"),
    ("Pa\u200cris", "Paris", "zero-width non-joiner"),
    ("Pa\u200dris", "Paris", "zero-width joiner"),
    ("Pa\u00adris", "Paris", "soft hyphen"),
    ("\u200eParis", "Paris", "left-to-right mark"),
    ("Paris\u200f", "Paris", "right-to-left mark"),
    ("\u061cParis", "Paris", "Arabic letter mark"),
    ("\u202aParis\u202c", "Paris", "bidi embedding and pop"),
    ("\u202eParis\u202c", "Paris", "bidi override"),
    ("\u2066Paris\u2069", "Paris", "bidi isolates"),
    ("\ufeffParis", "Paris", "byte-order mark"),
    ("Pa\u2060ris", "Paris", "word joiner"),
    ("Pa\u034fris", "Paris", "combining grapheme joiner"),
    ("Paris\ufe0f", "Paris", "variation selector"),
    ("\uff30\uff41\uff52\uff49\uff53", "Paris", "fullwidth letters"),
    ("\U0001d40f\U0001d41a\U0001d42b\U0001d422\U0001d42c", "Paris", "mathematical bold letters"),
    ("\ufb01nland", "Finland", "ligature"),
    ("New\u00a0York", "New York", "no-break space"),
    ("New\u202fYork", "New York", "narrow no-break space"),
    ("New\u3000York", "New York", "ideographic space"),
    ("Coca-Cola\u2122", "Coca-Cola", "trademark sign"),
    ("H\u2082O", "H2O", "subscript after a letter"),
]


@pytest.mark.parametrize(("answer", "gold", "what"), UNICODE_CASES, ids=[c[2] for c in UNICODE_CASES])
def test_format_and_compatibility_characters_change_no_verdict(answer: str, gold: str, what: str) -> None:
    assert match_answer(answer, [gold]).exact, what  # in the answer
    assert match_answer(gold, [answer]).exact, what  # in the gold alike
    assert match_answer(extract_answer(f"\\boxed{{{answer}}}"), [gold]).correct, what  # through extraction


def test_the_issue_example() -> None:
    assert extract_answer("\\boxed{Pa\u200bris}") == "Pa\u200bris"
    assert match_answer(extract_answer("\\boxed{Pa\u200bris}"), ["Paris"]).correct


def test_compatibility_forms_that_would_change_a_value_stay_apart() -> None:
    assert normalize_answer("10\u00b2") == "10 2"  # ten squared is not 102
    assert not match_answer("10\u00b2", ["102"]).correct
    assert normalize_answer("km\u00b2") == "km2"  # after a letter it folds
    assert match_answer("1\u00bd", ["1 1/2"]).exact  # one and a half, not 11/2
    assert not match_answer("1\u00bd", ["11/2"]).correct


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", "\u2009"], ids=["no-break", "narrow no-break", "thin"])
def test_a_no_break_or_thin_space_between_digit_groups_is_a_thousands_separator(space: str) -> None:
    assert match_answer(f"1{space}000{space}000", ["1,000,000"]).exact
    assert match_answer("118,918", [f"118{space}918"]).exact  # in the gold alike
    assert match_answer(f"2{space}560 BC", ["-2560"]).exact
    assert not match_answer(f"1{space}0000", ["10000"]).correct  # four digits after it: not a digit group
    assert match_answer(f"Apollo{space}11", ["Apollo 11"]).exact  # after a letter it is only a space
    assert not match_answer("1 000", ["1000"]).correct  # a plain space may part two numbers ("2 100")
