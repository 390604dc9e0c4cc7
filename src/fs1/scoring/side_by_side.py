"""Two scorings of the same predictions side by side: pass@k per dataset under each, and the verdicts that flip.

Made for ``fs1 compare`` of one set of predictions scored (or judged) two ways, e.g. with fs1's extraction and with
the authors' (``--extract fs1|authors``), but any two runs of verdicts can be read this way. The unit is a
(question, budget) pair, as in ``summary.json``; pass@k is the unbiased estimator (``fs1.scoring.metrics``) averaged
over units, at every k up to the smallest sample count of either run. A *verdict* is one sample's ``correct``: it
flips when the same (question, budget, sample) is correct in one run and not in the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fs1.scoring.metrics import pass_at_k
from fs1.scoring.paired import OVERALL, budget_of

Unit = tuple[str, int | None]


@dataclass
class VerdictFlips:
    """Samples scored in both runs, how many agree, and how many are correct in one run only."""

    shared: int
    same: int
    a_only: int  # correct in A, not in B
    b_only: int  # correct in B, not in A
    only_in_a: int  # samples A has and B lacks
    only_in_b: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _verdicts(
    rows: Iterable[Mapping[str, Any]], budget: int | None
) -> dict[tuple[str, int | None, int], bool]:
    """(question, budget, sample) -> correct, for the rows of ``budget`` (all budgets when ``None``)."""
    found = {}
    for row in rows:
        row_budget = budget_of(row)
        if budget is not None and row_budget != budget:
            continue
        found[(str(row["id"]), None if budget is not None else row_budget, int(row["sample"]))] = bool(
            row["correct"]
        )
    return found


def verdict_flips(
    rows_a: Iterable[Mapping[str, Any]],
    rows_b: Iterable[Mapping[str, Any]],
    budget_a: int | None = None,
    budget_b: int | None = None,
) -> VerdictFlips:
    """Compare two runs sample by sample (of one budget each, when given)."""
    a, b = _verdicts(rows_a, budget_a), _verdicts(rows_b, budget_b)
    shared = a.keys() & b.keys()
    a_only = sum(1 for key in shared if a[key] and not b[key])
    b_only = sum(1 for key in shared if b[key] and not a[key])
    return VerdictFlips(
        shared=len(shared),
        same=len(shared) - a_only - b_only,
        a_only=a_only,
        b_only=b_only,
        only_in_a=len(a.keys() - shared),
        only_in_b=len(b.keys() - shared),
    )


def unit_counts(rows: Iterable[Mapping[str, Any]], budget: int | None = None) -> dict[Unit, tuple[int, int]]:
    """(question, budget) -> (samples, correct samples), for the rows of ``budget`` (all when ``None``)."""
    counts: dict[Unit, list[int]] = {}
    for row in rows:
        row_budget = budget_of(row)
        if budget is not None and row_budget != budget:
            continue
        total = counts.setdefault((str(row["id"]), None if budget is not None else row_budget), [0, 0])
        total[0] += 1
        total[1] += bool(row["correct"])
    return {unit: (n, c) for unit, (n, c) in counts.items()}


def shared_ks(requested: Sequence[int], *runs: Mapping[Unit, tuple[int, int]]) -> list[int]:
    """The requested k that every unit of every run has samples for."""
    smallest = min((n for run in runs for n, _ in run.values()), default=0)
    return [k for k in requested if 1 <= k <= smallest]


def pass_at_k_by_source(
    counts: Mapping[Unit, tuple[int, int]], sources: Mapping[str, str], ks: Sequence[int]
) -> dict[str, dict[int, float]]:
    """pass@k averaged over units, ``overall`` first, then per dataset (``sources``: question ID -> dataset)."""
    groups: dict[str, list[tuple[int, int]]] = {OVERALL: list(counts.values())}
    for (qid, _), pair in counts.items():
        if qid in sources:
            groups.setdefault(sources[qid], []).append(pair)
    order = [OVERALL] + sorted(name for name in groups if name != OVERALL)
    return {
        name: {k: round(sum(pass_at_k(n, c, k) for n, c in groups[name]) / len(groups[name]), 6) for k in ks}
        for name in order
    }
