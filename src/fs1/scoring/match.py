"""Matching an extracted answer against the gold answers of a question (main answers + aliases).

A prediction is **correct** when some gold answer, normalised (``normalize_answer``), occurs in the normalised
prediction on token boundaries: ``no`` is not in ``not known``, ``Super Bowl XL`` is not in ``Super Bowl XLVIII``,
``2`` is not in ``12``. This is the containment test of the paper's LLM judge ("is the gold answer contained in the
predicted answer?"), done by rule. A yes/no gold must appear and its opposite must not ("yes and no" is not "yes").
Exact match and SQuAD-style token F1 are reported alongside, each the best over the golds.

``MatchResult.match`` says how it matched: ``exact`` (equal after normalisation), ``contains`` (a gold inside the
prediction), ``none`` (no gold found) or ``no_answer`` (nothing was extracted); a Score of a question left out of
scoring (gold answers that are only KG ids) says ``excluded``.

The gold a question is scored against is ``scoring_gold``: its main answers and aliases plus the years of the one
date-precision policy (``fs1.data.dates``), so a benchmark file written without those aliases scores as the dataset's
own file does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from fs1.data.common import exclusion_reason
from fs1.data.dates import precision_aliases
from fs1.errors import InputError
from fs1.records import Question
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.tables import NO, YES

MATCH_EXACT, MATCH_CONTAINS, MATCH_NONE, MATCH_NO_ANSWER = "exact", "contains", "none", "no_answer"
MATCH_EXCLUDED = "excluded"
_OPPOSITE = {YES: NO, NO: YES}
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)")


@dataclass(frozen=True)
class MatchResult:
    """The verdict on one extracted answer; ``gold`` is the gold answer that matched (``None`` if none did)."""

    correct: bool
    match: str
    exact: bool
    f1: float
    gold: str | None = None


NO_ANSWER_RESULT = MatchResult(False, MATCH_NO_ANSWER, False, 0.0)
EXCLUDED_RESULT = MatchResult(False, MATCH_EXCLUDED, False, 0.0)


def scoring_gold(question: Question) -> tuple[str, ...]:
    """The gold answers ``question`` is scored against (module docstring); ``()`` for a question that is left out
    of scoring (``fs1.data.exclusion_reason``: its gold answers are only KG ids)."""
    if exclusion_reason(question) is not None:
        return ()
    gold = question.gold
    return (*gold, *precision_aliases(question.question, gold))


def match_answer(extracted: str | None, gold: Sequence[str]) -> MatchResult:
    """Match ``extracted`` against ``gold`` (main answers + aliases); see the module docstring.

    Raises ``ValueError`` when ``gold`` is empty or every gold answer normalises to nothing.
    """
    return _match_cached(extracted, tuple(gold))


@lru_cache(maxsize=1 << 18)
def _match_cached(extracted: str | None, gold: tuple[str, ...]) -> MatchResult:
    forms, origins = _gold_forms(gold)
    if extracted is None:
        return NO_ANSWER_RESULT
    return match_forms(normalize_answer(extracted), forms, origins)


def match_forms(
    prediction: str, forms: tuple[str, ...], origins: tuple[str, ...], cached: bool = True
) -> MatchResult:
    """``match_answer`` for an answer already normalised (``prediction``; ``""``: none) against a gold list's
    normalised forms and the gold answer each comes from (``_gold_forms``). ``cached=False`` skips the memo of
    ``match_normalized``, for a caller that remembers verdicts itself (the file scorer, at millions of answers)."""
    if not prediction:
        return NO_ANSWER_RESULT
    compare = match_normalized if cached else match_normalized.__wrapped__
    correct, match, exact, f1, index = compare(prediction, forms)
    return MatchResult(correct, match, exact, f1, origins[index] if index >= 0 else None)


def normalized_golds(gold: Sequence[str]) -> tuple[str, ...]:
    """The distinct non-empty normalised forms of a gold list, in order; ``ValueError`` if there are none.

    A gold with a parenthetical ("Georgia (country)") also counts without it ("Georgia").
    """
    return _gold_forms(tuple(gold))[0]


@lru_cache(maxsize=1 << 16)
def _gold_forms(gold: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(normalised forms, the gold answer each form comes from)``."""
    if not gold:
        raise InputError("empty gold list")
    forms: dict[str, str] = {}
    for answer in gold:
        variants = [answer, _PARENTHETICAL.sub(" ", answer)] if "(" in answer else [answer]
        for variant in variants:
            form = normalize_answer(variant)
            if form:
                forms.setdefault(form, answer)
    if not forms:
        raise InputError(f"no usable gold answer in {list(gold)!r} (all normalise to nothing)")
    return tuple(forms), tuple(forms.values())


@lru_cache(maxsize=1 << 16)
def match_normalized(prediction: str, golds: tuple[str, ...]) -> tuple[bool, str, bool, float, int]:
    """``(correct, match, exact, f1, index of the matching gold or -1)`` for normalised strings."""
    padded = f" {prediction} "
    tokens = prediction.split()
    token_set = set(tokens)
    best_f1, exact_at, contains_at = 0.0, -1, -1
    for index, gold in enumerate(golds):
        if gold == prediction:
            exact_at = index if exact_at < 0 else exact_at
        elif contains_at < 0 and _contains(padded, token_set, gold):
            contains_at = index
        best_f1 = max(best_f1, token_f1(tokens, gold.split()))
    if exact_at >= 0:
        return True, MATCH_EXACT, True, best_f1, exact_at
    if contains_at >= 0:
        return True, MATCH_CONTAINS, False, best_f1, contains_at
    return False, MATCH_NONE, False, best_f1, -1


def _contains(padded_prediction: str, prediction_tokens: set[str], gold: str) -> bool:
    opposite = _OPPOSITE.get(gold)
    if opposite is not None:
        return gold in prediction_tokens and opposite not in prediction_tokens
    return f" {gold} " in padded_prediction


def token_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    """SQuAD token F1 between two token lists (0.0 when either is empty or they share nothing)."""
    if not prediction_tokens or not gold_tokens:
        return 0.0
    prediction_set, gold_set = set(prediction_tokens), set(gold_tokens)
    if len(prediction_set) == len(prediction_tokens) and len(gold_set) == len(gold_tokens):
        common = len(prediction_set & gold_set)  # no repeated tokens: the multiset overlap is the set overlap
    else:
        common = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(prediction_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)
