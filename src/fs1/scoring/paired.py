"""Paired comparison of two scored runs on the same questions: difference, paired-bootstrap interval, sign test.

Each question's value in a run is its accuracy (share of correct samples; with one sample: 0 or 1). Questions
answered in both runs are paired. Per dataset (and ``overall``):

- ``difference``: mean over paired questions of (A - B), i.e. accuracy A minus accuracy B on the same questions;
- ``ci``: its 95 % paired-bootstrap interval (resample questions, each bringing its A and B values together;
  seeded);
- ``p_value``: two-sided exact sign test on the questions where A and B differ (``a_better`` vs ``b_better``);
  with one sample per question this is the exact McNemar test on the discordant pairs;
- ``flips``: the questions where the two runs differ, A-better first (largest differences first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

import numpy as np

from fs1.io import InputError, read_jsonl_rows
from fs1.records import Question
from fs1.scoring.intervals import percentile_interval, replicate_means, slice_rng
from fs1.scoring.match import MATCH_EXCLUDED

OVERALL = "overall"


@dataclass
class PairedResult:
    """The comparison of runs A and B on one dataset (or ``overall``)."""

    source: str
    n_questions: int
    accuracy_a: float
    accuracy_b: float
    difference: float
    ci: tuple[float, float]
    a_better: int
    b_better: int
    p_value: float
    flips: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_questions": self.n_questions,
            "accuracy_a": self.accuracy_a,
            "accuracy_b": self.accuracy_b,
            "difference": self.difference,
            "ci": list(self.ci),
            "a_better": self.a_better,
            "b_better": self.b_better,
            "p_value": self.p_value,
            "flips": self.flips,
        }


def load_verdicts(path: str | Path) -> list[dict[str, Any]]:
    """Scored rows of a run: ``scores.jsonl`` (or ``judged.jsonl``) in a directory, or that file itself.

    Every row needs ``id`` and a boolean ``correct``; ``InputError`` names the file and line otherwise.
    """
    path = Path(path)
    if path.is_dir():
        found = [path / name for name in ("scores.jsonl", "judged.jsonl") if (path / name).is_file()]
        if not found:
            raise InputError(f"{path}: no scores.jsonl or judged.jsonl (is this a score directory?)")
        path = found[0]
    rows = []
    for line, row in read_jsonl_rows(path):
        if "id" not in row or not isinstance(row.get("correct"), bool):
            raise InputError(f"{path}:{line}: a scored row needs an id and a true/false correct")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no scored rows")
    return rows


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test (exact McNemar on discordant pairs): ``P(|X - m/2| >= |wins - m/2|)``."""
    trials = wins + losses
    if trials == 0:
        return 1.0
    low = min(wins, losses)
    tail = sum(comb(trials, i) for i in range(low + 1)) / 2**trials
    return min(1.0, 2 * tail)


def under_own_ids(rows: list[dict[str, Any]], questions: Mapping[str, Question]) -> list[dict[str, Any]]:
    """``rows`` with each ``id`` replaced by its question's own ID where ``questions`` (``fs1.data.question_index``)
    knows it by an older one (SimpleQA's row positions), so a run scored before IDs came from content pairs with a
    run scored after. Rows are changed in place and returned."""
    for row in rows:
        question = questions.get(str(row["id"]))
        if question is not None:
            row["id"] = question.ID
    return rows


def question_accuracy(rows: Iterable[Mapping[str, Any]], budget: int | None = None) -> dict[str, float]:
    """Per question ID: the share of correct samples (of ``budget`` only, when given). Questions left out of scoring
    (verdict ``excluded``: gold answers that are only KG ids) are left out here too."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        if (budget is not None and budget_of(row) != budget) or row.get("match") == MATCH_EXCLUDED:
            continue
        total = totals.setdefault(str(row["id"]), [0, 0])
        total[0] += bool(row.get("correct"))
        total[1] += 1
    return {qid: right / count for qid, (right, count) in totals.items()}


def budget_of(row: Mapping[str, Any]) -> int | None:
    budget = row.get("budget", (row.get("meta") or {}).get("budget"))
    return None if budget is None else int(budget)


def compare(
    a: Mapping[str, float], b: Mapping[str, float], sources: Mapping[str, str], seed: int = 0
) -> list[PairedResult]:
    """Paired comparison of per-question values ``a`` and ``b``, ``overall`` first, then per source.

    ``sources`` maps a question ID to its dataset (an ID missing there counts only in ``overall``); questions in
    only one run are left out.
    """
    paired = sorted(set(a) & set(b))
    if not paired:
        raise InputError("the two runs share no question to compare")
    by_source: dict[str, list[str]] = {OVERALL: paired}
    for qid in paired:
        if qid in sources:
            by_source.setdefault(sources[qid], []).append(qid)
    order = [OVERALL] + sorted(s for s in by_source if s != OVERALL)
    return [_compare_slice(name, by_source[name], a, b, seed) for name in order]


def _compare_slice(
    name: str, qids: list[str], a: Mapping[str, float], b: Mapping[str, float], seed: int
) -> PairedResult:
    va = np.array([a[q] for q in qids])
    vb = np.array([b[q] for q in qids])
    diff = va - vb
    replicates = replicate_means(diff, np.arange(len(qids)), slice_rng(seed, f"paired/{name}"))
    lo, hi = (round(float(x), 6) for x in percentile_interval(replicates)[:, 0])
    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    flips = [
        {"id": q, "a": round(float(x), 6), "b": round(float(y), 6)}
        for q, x, y in sorted(zip(qids, va, vb, strict=True), key=lambda t: (-(t[1] - t[2]), t[0]))
        if x != y
    ]
    return PairedResult(
        source=name,
        n_questions=len(qids),
        accuracy_a=round(float(va.mean()), 6),
        accuracy_b=round(float(vb.mean()), 6),
        difference=round(float(diff.mean()), 6),
        ci=(lo, hi),
        a_better=wins,
        b_better=losses,
        p_value=round(sign_test(wins, losses), 6),
        flips=flips,
    )
