"""What an imported judge line becomes: a ``Score`` of the answer the authors' judge was shown (rule-matched, as
``fs1 score`` matches any answer) and, with the judge's reply, a judged row whose verdict is that reply read by the
``fs1`` judge preset's strict parser (``"1"`` correct, ``"0"`` incorrect, anything else an ``error`` verdict, counted
and never correct)."""

from __future__ import annotations

from typing import Any

from fs1.authors.formats import AuthorsLine
from fs1.judge.judge import VERDICT_CORRECT, VERDICT_NOT_ATTEMPTED, get_prompt
from fs1.judge.stage import JudgedRow
from fs1.records import Question, Score
from fs1.scoring.match import match_answer


def fields_of(record: Any) -> dict[str, Any]:
    """A dataclass record's fields as a dict, shallow (``asdict`` deep-copies: most of an import's time)."""
    return dict(vars(record))


SOURCE_IMPORTED = "imported"  # decided_by of an imported verdict, via of an imported answer
JUDGE_PRESET = get_prompt("fs1")  # the authors' judge: its replies are read with this preset's parser


def score_row(line: AuthorsLine, question: Question, where: str) -> dict[str, Any]:
    """The ``scores.jsonl`` row of the answer the authors' judge was shown."""
    result = match_answer(line.answer, question.gold)
    meta: dict[str, Any] = {"via": SOURCE_IMPORTED, "source": where}
    if result.gold is not None:
        meta["gold"] = result.gold
    return fields_of(Score(
        id=line.qid, sample=line.sample, extracted=line.answer, correct=result.correct, match=result.match,
        exact=result.exact, f1=round(result.f1, 4), meta=meta,
    ))  # fmt: skip


def judged_row(line: AuthorsLine, question: Question) -> dict[str, Any]:
    """The ``judged.jsonl`` row of the authors' judge's reply to one answer."""
    verdict = JUDGE_PRESET.parse(line.reply or "")
    result = match_answer(line.answer, question.gold)
    return fields_of(JudgedRow(
        id=line.qid, sample=line.sample, budget=line.budget, extracted=line.answer, verdict=verdict,
        correct=verdict == VERDICT_CORRECT, attempted=verdict != VERDICT_NOT_ATTEMPTED,
        decided_by=SOURCE_IMPORTED, judge_reply=line.reply, exact=result.exact, f1=round(result.f1, 4),
    ))  # fmt: skip
