"""The scorer's shortcuts give what the plain rules give, on seeded random inputs built to hit their edges.

Each shortcut skips work a rule would do for nothing (a search, a pattern that cannot match): normalisation without
the word rules' patterns on a text without their words; the last think-closing marker found from the last "<"
characters; a brace group without nested or escaped braces read with one ``find``; the end-of-turn cut from the first
"<". The references here are the rules written plainly, as they were before the shortcuts.
"""

from __future__ import annotations

import importlib
import random
import re

import pytest

from fs1.prompts import ANSWER_MARKER, THINK_CLOSE_TAG, THINK_MARKER, THINK_OPEN_TAG
from fs1.scoring.tables import END_OF_TURN_TOKENS

# (the modules: fs1.scoring exports functions of these names)
extract = importlib.import_module("fs1.scoring.extract")
normalize = importlib.import_module("fs1.scoring.normalize")

WORDS = sorted(normalize._RULE_WORDS) + [
    "per",
    "cent",
    "BC",
    "B.C.",
    "AD",
    "Christ",
    "St.",
    "July",
    "may",
    "of",
]
VOCABULARY = [
    *WORDS,
    *(w.upper() for w in WORDS),
    *(w.capitalize() for w in WORDS),
    "Karovel", "Tokyo", "São", "ıncorrect", "Yeſ", "\u212aelvin", "\u0130stanbul", "\U0001d6a4", "U.S.A.", "B",
    "ﬁve", "Ｔｈｅ", "Москва", "1", "1,000", "3.50", "-40", "2nd", "1961-08-04", "10²", "1½",
]  # fmt: skip
SEPARATORS = [" ", " ", "-", ", ", ".", "'", "%", "&", "\u200b", "\u00ad", "(", ")", ":", "/", "", "\x00"]


def random_answer(rng: random.Random) -> str:
    return "".join(rng.choice(VOCABULARY) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 6)))


def test_normalisation_without_the_word_rules_patterns_equals_running_them() -> None:
    rng = random.Random(0)
    for text in [
        "ıncorrect",
        "the",
        "A B",
        "Vitamin A",
        "twenty-one",
        "\U0001d6a4ncorrect",
        "5million",
        "no",
    ]:
        assert normalize._normalize(text, quick=True) == normalize._normalize(text, quick=False), text
    for _ in range(15_000):
        text = random_answer(rng)
        assert normalize._normalize(text, quick=True) == normalize._normalize(text, quick=False), text


def reference_closer_end(text: str) -> int:
    ends = [at + len(c) for c in (THINK_CLOSE_TAG, ANSWER_MARKER) if (at := text.rfind(c)) >= 0]
    return max(ends, default=-1)


FRAGMENTS = [
    THINK_CLOSE_TAG, ANSWER_MARKER, THINK_OPEN_TAG, THINK_MARKER, "<|im_end|>", "<", "<<", "</think", "<|im_start|>",
    "x", "\n", "\\boxed{a}", "answer", " ",
]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_the_last_closing_marker_found_from_the_last_lt_signs(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20_000):
        parts = [rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 20))]
        parts.insert(rng.randint(0, len(parts)), "z" * rng.choice([0, 5, 3000]))
        text = "".join(parts)
        assert extract._last_closer_end(text) == reference_closer_end(text), text


BRACE = re.compile(r"\\[{}]|[{}]")


def reference_balanced(text: str, open_at: int) -> tuple[str, int]:
    depth = 0
    for match in BRACE.finditer(text, open_at):
        if len(match.group()) == 2:
            continue
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return text[open_at + 1 : match.start()], match.end()
    return text[open_at + 1 :], len(text)


def test_a_brace_group_read_with_one_find_equals_the_balanced_scan() -> None:
    rng = random.Random(3)
    for _ in range(30_000):
        text = "{" + "".join(
            rng.choice(["a", "{", "}", "\\", "\\{", "\\}", " "]) for _ in range(rng.randint(0, 12))
        )
        assert extract._balanced(text, 0) == reference_balanced(text, 0), text


LEADING = re.compile(r"^(?:\s*(?:" + "|".join(map(re.escape, END_OF_TURN_TOKENS)) + r")(?:assistant\b)?)+")


def reference_cut(part: str) -> str:
    if "<" not in part:
        return part
    part = LEADING.sub("", part)
    for token in END_OF_TURN_TOKENS:
        at = part.find(token)
        if at >= 0:
            part = part[:at]
    return part


def test_the_end_of_turn_cut_from_the_first_lt_sign_equals_searching_from_the_start() -> None:
    rng = random.Random(4)
    pieces = [*END_OF_TURN_TOKENS, "assistant", " ", "\n", "Paris", "<", "x<y"]
    for _ in range(30_000):
        part = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert extract._cut_at_end_of_turn(part) == reference_cut(part), part
