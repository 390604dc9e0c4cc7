"""Aggregation of per-sample verdicts into the summary that the judge, report and runner stages read.

The unit of aggregation is a question, or a (question, budget) pair when the samples carry several distinct budgets.
Shape (keep it; other stages read it)::

    {"n": <samples per unit (the smallest, if they differ)>, "ks": [k, ...],
     "overall": S, "by_source": {source: S}, "by_hops": {"1": S, ...}, "by_answer_type": {type: S},
     "by_budget": {"<budget>": {"overall": S, "by_source": ..., "by_hops": ..., "by_answer_type": ...}}}  # if budgets

    S = {"n_questions", "n_predictions", "accuracy", "exact", "f1", "no_answer_rate",
         "pass@k": {"1": x, ...}, "maj@k": {"1": x, ...}}

- ``n_questions`` counts units (with several budgets, each (question, budget) pair is one unit, and the top-level
  sections pool the units of all budgets); ``n_predictions`` counts samples.
- ``accuracy``, ``exact``, ``f1`` and ``no_answer_rate`` are per-sample means taken within each unit, then averaged over
  units, so each unit weighs the same even when sample counts differ (with equal counts: the plain per-sample mean;
  ``accuracy`` then equals pass@1).
- ``ks`` are the requested k that are at most the smallest sample count of any unit, so every pass@k / maj@k is over
  the same units; each unit uses its own n in the pass@k estimator. Definitions of pass@k and maj@k:
  ``fs1.scoring.metrics``. ``by_hops`` / ``by_answer_type`` hold only questions where the field is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fs1.records import Question, Score
from fs1.scoring.match import match_answer
from fs1.scoring.metrics import maj_at_k_array, pass_at_k_array
from fs1.scoring.normalize import normalize_answer

DEFAULT_KS = (1, 2, 4, 8, 16)
NO_BUDGET_KEY = "none"


class DuplicateSampleError(ValueError):
    """Two verdicts for one (question, budget, sample); ``position`` is the 0-based index of the second one."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass
class VerdictColumns:
    """Per-sample verdicts gathered column-wise (cheap to append millions of, fast to aggregate with numpy)."""

    unit_keys: dict[tuple[str, int | None], int] = field(default_factory=dict)
    answer_ids: dict[str, int] = field(default_factory=dict)
    unit: list[int] = field(default_factory=list)
    sample: list[int] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    answer: list[int] = field(default_factory=list)

    def add(
        self,
        qid: str,
        budget: int | None,
        sample: int,
        correct: bool,
        exact: bool,
        f1: float,
        extracted: str | None,
    ) -> None:
        """Record one sample's verdict; ``extracted`` (normalised here) is its vote for maj@k."""
        key = normalize_answer(extracted) if extracted is not None else ""
        self.add_verdict(qid, budget, sample, correct, exact, f1, key)

    def add_verdict(
        self,
        qid: str,
        budget: int | None,
        sample: int,
        correct: bool,
        exact: bool,
        f1: float,
        answer_key: str,
    ) -> None:
        """Record one sample's verdict with its already normalised answer (``""``: no answer)."""
        unit = self.unit_keys.setdefault((qid, budget), len(self.unit_keys))
        self.unit.append(unit)
        self.sample.append(sample)
        self.correct.append(bool(correct))
        self.exact.append(bool(exact))
        self.f1.append(float(f1))
        self.answer.append(self.answer_ids.setdefault(answer_key, len(self.answer_ids)) if answer_key else -1)

    def extend(self, other: VerdictColumns) -> None:
        """Append the verdicts of ``other`` (gathered apart, e.g. by a worker process) after these ones.

        Units and answers new here are numbered in ``other``'s order of first appearance, so gathering a file in
        pieces and extending piece by piece numbers them as gathering it in one go would.
        """
        units = [self.unit_keys.setdefault(key, len(self.unit_keys)) for key in other.unit_keys]
        answers = [self.answer_ids.setdefault(key, len(self.answer_ids)) for key in other.answer_ids]
        if other.unit:
            self.unit += np.asarray(units, dtype=np.int64)[other.unit].tolist()
            # (index -1, no answer, picks the -1 appended last)
            self.answer += np.asarray([*answers, -1], dtype=np.int64)[other.answer].tolist()
        self.sample += other.sample
        self.correct += other.correct
        self.exact += other.exact
        self.f1 += other.f1

    def __len__(self) -> int:
        return len(self.unit)


def summarise(
    rows: Iterable[Mapping[str, Any] | Score],
    questions: Mapping[str, Question],
    ks: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Aggregate per-sample verdicts from any source (rule scorer or judge) into the summary (module docstring).

    Each row needs ``id``, ``sample``, ``correct`` and ``extracted`` (``None``: no answer); ``budget`` is read from the
    row or its ``meta``. ``exact`` and ``f1``, when missing, are computed from ``extracted`` by the rule matcher.
    Raises ``ValueError`` for an unknown question ID or a duplicate (id, budget, sample).
    """
    columns = VerdictColumns()
    for row in rows:
        data = row.to_dict() if isinstance(row, Score) else row
        qid = str(data["id"])
        if qid not in questions:
            raise ValueError(f"verdict for unknown question ID {qid!r}")
        budget = data.get("budget", (data.get("meta") or {}).get("budget"))
        extracted = data.get("extracted")
        exact, f1 = data.get("exact"), data.get("f1")
        if exact is None or f1 is None:
            result = match_answer(extracted, questions[qid].gold)
            exact, f1 = result.exact, result.f1
        columns.add(qid, budget, int(data["sample"]), bool(data["correct"]), exact, f1, extracted)
    return aggregate(columns, questions, ks)


def aggregate(columns: VerdictColumns, questions: Mapping[str, Question], ks: Sequence[int] | None) -> dict:
    """The summary of gathered verdicts; ``DuplicateSampleError`` names the position of a repeated sample."""
    requested = sorted(set(DEFAULT_KS if ks is None else ks))
    if any(k < 1 for k in requested):
        raise ValueError(f"k must be >= 1, got {requested}")
    if not len(columns):
        raise ValueError("no predictions to summarise")
    per_unit = _per_unit_values(columns, requested)
    keys = list(columns.unit_keys)
    meta = [questions[qid] for qid, _ in keys]
    budgets = [budget for _, budget in keys]
    summary: dict[str, Any] = {"n": per_unit["min_n"], "ks": per_unit["ks"]}
    summary.update(_sections(per_unit, meta, np.ones(len(keys), dtype=bool)))
    distinct = sorted(set(budgets), key=lambda b: (b is None, b or 0))
    if len(distinct) > 1:
        summary["by_budget"] = {
            _budget_key(b): _sections(per_unit, meta, np.array([x == b for x in budgets])) for b in distinct
        }
    return summary


def _budget_key(budget: int | None) -> str:
    return NO_BUDGET_KEY if budget is None else str(budget)


def _per_unit_values(columns: VerdictColumns, requested: list[int]) -> dict[str, Any]:
    unit = np.asarray(columns.unit, dtype=np.int64)
    sample = np.asarray(columns.sample, dtype=np.int64)
    order = np.lexsort((sample, unit))
    unit, sample = unit[order], sample[order]
    repeated = np.flatnonzero((unit[1:] == unit[:-1]) & (sample[1:] == sample[:-1]))
    if repeated.size:
        position = int(order[repeated[0] + 1])
        qid, budget = list(columns.unit_keys)[unit[repeated[0]]]
        where = f"question {qid!r}" + ("" if budget is None else f" budget {budget}")
        raise DuplicateSampleError(f"duplicate sample {int(sample[repeated[0]])} for {where}", position)
    correct = np.asarray(columns.correct, dtype=bool)[order]
    answer = np.asarray(columns.answer, dtype=np.int64)[order]
    n_units = len(columns.unit_keys)
    n = np.bincount(unit, minlength=n_units)
    c = np.bincount(unit, weights=correct, minlength=n_units)
    rank = np.arange(unit.size) - np.r_[0, np.cumsum(n)[:-1]][unit]
    min_n = int(n.min())
    ks = [k for k in requested if k <= min_n]

    def unit_mean(values: list | np.ndarray) -> np.ndarray:
        return np.bincount(unit, weights=np.asarray(values, dtype=float)[order], minlength=n_units) / n

    return {
        "min_n": min_n,
        "ks": ks,
        "n": n,
        "accuracy": c / n,
        "exact": unit_mean(columns.exact),
        "f1": unit_mean(columns.f1),
        "no_answer_rate": unit_mean(np.asarray(columns.answer) < 0),
        "pass": {k: pass_at_k_array(n, c.astype(np.int64), k) for k in ks},
        "maj": {k: maj_at_k_array(unit, rank, answer, correct, n_units, k) for k in ks},
    }


def _sections(per_unit: dict[str, Any], meta: list[Question], mask: np.ndarray) -> dict[str, Any]:
    """``overall`` and the by-source / by-hops / by-answer-type slices of the units in ``mask``."""
    sources = np.array([q.source_of_data for q in meta], dtype=object)
    hops = np.array([None if q.hops is None else str(q.hops) for q in meta], dtype=object)
    types = np.array([q.answer_type for q in meta], dtype=object)

    def by(values: np.ndarray) -> dict[str, Any]:
        present = sorted({v for v in values[mask] if v is not None}, key=_natural_key)
        return {v: _stats(per_unit, mask & (values == v)) for v in present}

    return {
        "overall": _stats(per_unit, mask),
        "by_source": by(sources),
        "by_hops": by(hops),
        "by_answer_type": by(types),
    }


def _natural_key(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


def _stats(per_unit: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    def mean(values: np.ndarray) -> float:
        return round(float(values[mask].mean()), 6) if mask.any() else 0.0

    return {
        "n_questions": int(mask.sum()),
        "n_predictions": int(per_unit["n"][mask].sum()),
        "accuracy": mean(per_unit["accuracy"]),
        "exact": mean(per_unit["exact"]),
        "f1": mean(per_unit["f1"]),
        "no_answer_rate": mean(per_unit["no_answer_rate"]),
        "pass@k": {str(k): mean(values) for k, values in per_unit["pass"].items()},
        "maj@k": {str(k): mean(values) for k, values in per_unit["maj"].items()},
    }
