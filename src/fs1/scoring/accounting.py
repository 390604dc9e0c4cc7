"""Question accounting: every question of the benchmark is scored, excluded or without a prediction, and the summary
says which, so no number silently covers fewer questions than the reader thinks.

Fields of ``summary.json`` (and ``judged_summary.json``), beside the sections::

    "benchmark_questions": 9,            # distinct questions of the benchmark the predictions were scored against
    "excluded": {"count": 2, "ids": ["WebQTest-743", ...], "reasons": {"<why>": 2}},
    "questions_without_predictions": {"count": 4, "ids": ["q5", "q6", "q7", "q8"]},
    "warnings": ["2 question(s) excluded ...", "4 of 9 benchmark question(s) have no prediction ..."]  # or []

- *excluded*: questions that cannot be scored (``fs1.data.exclusion_reason``: gold answers that are only KG ids).
  They are left out of accuracy, pass@k and every other number, with or without predictions; ``ids`` names all of
  them. Their predictions are still written to ``scores.jsonl``, with the verdict ``excluded``. Predictions of
  records the benchmark's loader skipped (``fs1.data.ScoringBenchmark.skipped``: no gold answer) are scored the
  same way, and those records are excluded with the loader's reason ("skipped by the loader: no gold answer") and
  counted among the benchmark's questions, after its own questions (in the order of the benchmark's file). Skipped
  records no prediction names are not listed: the conversion reports them (``X.skipped.jsonl``), and a summary of
  predictions that never name one is the same as if the loader had not read them.
- *without predictions*: the other benchmark questions no prediction names; ``ids`` names the first
  ``SHOWN_IDS`` in benchmark order. ``fs1 score --require-complete`` makes any of them an error.
- ``overall.n_questions`` + excluded + without predictions = ``benchmark_questions`` (without budgets; with several
  budgets ``n_questions`` counts (question, budget) units).

Predictions may name a question by an older ID (``fs1.data.question_index``); they count for the question itself.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fs1.data import EXCLUDED_SKIPPED, exclusion_reason
from fs1.errors import InputError
from fs1.records import Question

if TYPE_CHECKING:
    from fs1.scoring.summary import VerdictColumns

SHOWN_IDS = 20  # questions without predictions named in the summary (the count is exact)
WARNING_IDS = 5  # IDs named in a warning line


@dataclass(frozen=True)
class Accounting:
    """Where every benchmark question went: ``excluded`` (ID → reason) and ``without_predictions`` (benchmark
    order) by the questions' own IDs."""

    benchmark: int
    excluded: dict[str, str]
    without_predictions: list[str]

    def fields(self) -> dict[str, Any]:
        """The summary fields (module docstring); ``warnings`` is empty when there is nothing to warn about."""
        out: dict[str, Any] = {
            "benchmark_questions": self.benchmark,
            "excluded": {
                "count": len(self.excluded),
                "ids": list(self.excluded),
                "reasons": dict(Counter(self.excluded.values())),
            },
            "questions_without_predictions": {
                "count": len(self.without_predictions),
                "ids": self.without_predictions[:SHOWN_IDS],
            },
        }
        out["warnings"] = self.warnings()
        return out

    def warnings(self) -> list[str]:
        out = []
        if self.excluded:
            reasons = "; ".join(sorted(set(self.excluded.values())))
            out.append(
                f"{len(self.excluded)} question(s) excluded from every number ({_some(list(self.excluded))}): "
                f"{reasons}"
            )
        if self.without_predictions:
            out.append(
                f"{len(self.without_predictions)} of {self.benchmark} benchmark question(s) have no prediction "
                f"({_some(self.without_predictions)}): the numbers cover only the questions that have one "
                "(--require-complete makes this an error)"
            )
        return out


def _some(ids: list[str]) -> str:
    shown = ", ".join(ids[:WARNING_IDS])
    return f"e.g. {shown}, …" if len(ids) > WARNING_IDS else shown


NO_SKIPS: Mapping[str, str] = {}


def account(
    predicted: Iterable[str], questions: Mapping[str, Question], skipped: Mapping[str, str] = NO_SKIPS
) -> Accounting:
    """The accounting of the benchmark ``questions`` (by ID, older IDs allowed) given the question IDs that have
    predictions (``predicted``, IDs as the predictions write them) and the records the loader skipped that they
    name (``skipped``, ID → the loader's reason: ``named_skips``), which are excluded (``EXCLUDED_SKIPPED``)."""
    benchmark = {q.ID: q for q in questions.values()}  # an older ID maps to a question already listed
    named = {questions[qid].ID for qid in predicted if qid in questions}
    excluded = {}
    for qid, question in benchmark.items():
        reason = exclusion_reason(question)
        if reason is not None:
            excluded[qid] = reason
    missing = [qid for qid in benchmark if qid not in named and qid not in excluded]
    excluded.update((qid, EXCLUDED_SKIPPED.format(reason=reason)) for qid, reason in skipped.items())
    return Accounting(len(benchmark) + len(skipped), excluded, missing)


def named_skips(skipped: Mapping[str, str], predicted: Iterable[str]) -> dict[str, str]:
    """The records of ``skipped`` (``fs1.data.ScoringBenchmark.skipped``) that ``predicted`` IDs name, in the order
    of ``skipped`` (the benchmark's file), so the summary does not depend on the order of the predictions."""
    if not skipped:
        return {}
    named = set(predicted)
    return {qid: reason for qid, reason in skipped.items() if qid in named}


class IncompleteError(InputError):
    """Benchmark questions without a prediction where every question must have one (``--require-complete``)."""


def require_complete(summary: Mapping[str, Any], where: str) -> None:
    """Raise ``IncompleteError`` naming the benchmark questions of a summary that have no prediction, if any."""
    missing = summary["questions_without_predictions"]
    if missing["count"]:
        raise IncompleteError(
            f"{where}: {missing['count']} of {summary['benchmark_questions']} benchmark question(s) have no "
            f"prediction ({_some(missing['ids'])}); drop --require-complete to score the others"
        )


def scored_columns(
    columns: VerdictColumns, questions: Mapping[str, Question], accounting: Accounting
) -> tuple[VerdictColumns, list[int]]:
    """``columns`` (``fs1.scoring.summary.VerdictColumns``) as the summary counts them: without the units of
    excluded questions, and with a question named by an older ID (``fs1.data.question_index``) under its own ID, so
    it is one unit however its predictions name it. Also the original position of each verdict kept (empty when
    nothing changed). ``InputError`` when nothing is left."""
    get = questions.get
    if not accounting.excluded and all(
        (question := get(qid)) is not None and qid == question.ID for qid, _ in columns.unit_keys
    ):
        return columns, []  # (the common case, without a new key per unit)
    new_keys = {key: _scored_key(key, questions, accounting) for key in columns.unit_keys}
    if all(new == key for key, new in new_keys.items()):
        return columns, []
    out = type(columns)(answer_ids=columns.answer_ids, refusals=columns.refusals)
    renumber = {
        index: out.unit_keys.setdefault(new, len(out.unit_keys))
        for key, index in columns.unit_keys.items()
        if (new := new_keys[key]) is not None
    }
    kept = [position for position, unit in enumerate(columns.unit) if unit in renumber]
    if not kept:
        raise InputError(
            f"no predictions to summarise: every question with predictions is excluded "
            f"({len(accounting.excluded)}: {next(iter(accounting.excluded.values()))})"
        )
    out.unit = array("q", [renumber[columns.unit[p]] for p in kept])
    for name in ("sample", "correct", "exact", "f1", "answer"):
        values = getattr(columns, name)
        setattr(out, name, array(values.typecode, [values[p] for p in kept]))
    given = columns.attempted_given
    out.attempted_given = {new: given[old] for new, old in enumerate(kept) if old in given}
    return out, kept


def _scored_key(
    key: tuple[str, int | None], questions: Mapping[str, Question], accounting: Accounting
) -> tuple[str, int | None] | None:
    question = questions.get(key[0])
    own = key[0] if question is None else question.ID  # (no question: a skipped record, excluded)
    if own in accounting.excluded:
        return None
    return (own, key[1]) if own in questions else key  # (a mapping keyed otherwise keeps its keys)
