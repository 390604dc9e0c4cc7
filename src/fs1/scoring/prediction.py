"""Score one prediction: extract its answer (fs1's rule never reads the thinking; the authors' rule reads the whole
reply) and match it against the gold answers.

Shared by the in-memory scorer (``score.py``) and the batch workers (``batches.py``), which import it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fs1.records import Prediction, Question, Score
from fs1.scoring.extract import EXTRACT_FS1, Extraction, extract_with
from fs1.scoring.match import EXCLUDED_RESULT, MatchResult, match_answer, scoring_gold

# Keys of the authors' own files (docs/authors.md): a reader of predictions that meets one names `fs1 import`.
_AUTHORS_KEYS = ("request_id", "generated_text", "custom_id")


def authors_hint(row: dict[str, Any]) -> str:
    """A pointer to ``fs1 import`` for a row in one of the authors' shapes (else ``""``), for error messages."""
    v1 = "answer" in row and "id" in row and "text" not in row
    if v1 or any(key in row for key in _AUTHORS_KEYS):
        return " (one of the authors' files? `fs1 import` reads them into predictions)"
    return ""


# finish_reason of a reply cut off by the token cap (OpenAI / vLLM naming) or by a full context (fs1.backends.base).
FINISH_LENGTH = "length"
TRUNCATED_REASONS = (FINISH_LENGTH, "context")


def score_prediction(
    prediction: Prediction,
    question: Question | None,
    gold: Sequence[str] | None = None,
    extract: str = EXTRACT_FS1,
) -> Score:
    """Extract the answer of one prediction by rule ``extract`` (``fs1`` or ``authors``) and match it against the
    question's gold answers.

    ``gold``: ``scoring_gold(question)`` computed once by a caller that scores many samples of one question; no
    ``question`` (a record the benchmark's loader skipped) has none: the verdict ``excluded``.
    """
    truncated = prediction.finish_reason in TRUNCATED_REASONS
    found = extract_with(extract, prediction.text, truncated=truncated)
    if gold is None:
        gold = scoring_gold(question) if question is not None else ()
    return score_extraction(prediction.id, prediction.sample, prediction.budget, found, gold)


def score_extraction(qid: str, sample: int, budget: Any, found: Extraction, gold: Sequence[str]) -> Score:
    """The Score of an extracted answer (``found``) of sample ``sample`` of question ``qid``; an empty ``gold`` (a
    question left out of scoring, ``scoring_gold``) gives the verdict ``excluded``, never a match against text."""
    result = match_answer(found.answer, gold) if gold else EXCLUDED_RESULT
    return score_from_match(qid, sample, budget, found, result)


def score_from_match(qid: str, sample: int, budget: Any, found: Extraction, result: MatchResult) -> Score:
    """The Score of an extracted answer whose match against the gold answers is ``result``."""
    meta: dict[str, Any] = {"via": found.via}
    if budget is not None:
        meta["budget"] = budget
    if result.gold is not None:
        meta["gold"] = result.gold
    return Score(
        id=qid,
        sample=sample,
        extracted=found.answer,
        correct=result.correct,
        match=result.match,
        exact=result.exact,
        f1=round(result.f1, 4),
        meta=meta,
    )
