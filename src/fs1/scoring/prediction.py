"""Score one prediction: extract its answer (never from inside the thinking) and match it against the gold answers.

Shared by the in-memory scorer (``score.py``) and the batch workers (``batches.py``), which import it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fs1.records import Prediction, Question, Score
from fs1.scoring.extract import extract
from fs1.scoring.match import match_answer

# finish_reason of a reply that hit the token cap (OpenAI / vLLM naming).
FINISH_LENGTH = "length"


def score_prediction(prediction: Prediction, question: Question, gold: Sequence[str] | None = None) -> Score:
    """Extract the answer of one prediction and match it against the question's gold answers.

    ``gold``: ``question.gold`` computed once by a caller that scores many samples of one question.
    """
    found = extract(prediction.text, truncated=prediction.finish_reason == FINISH_LENGTH)
    result = match_answer(found.answer, question.gold if gold is None else gold)
    meta: dict[str, Any] = {"via": found.via}
    if prediction.budget is not None:
        meta["budget"] = prediction.budget
    if result.gold is not None:
        meta["gold"] = result.gold
    return Score(
        id=prediction.id,
        sample=prediction.sample,
        extracted=found.answer,
        correct=result.correct,
        match=result.match,
        exact=result.exact,
        f1=round(result.f1, 4),
        meta=meta,
    )
