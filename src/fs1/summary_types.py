"""The results contract: the declared shape of ``summary.json`` (``fs1 score``) and ``judged_summary.json``
(``fs1 judge``), with the file and metric names their readers use. Readers import these, not string keys.

Semantics of each number: ``fs1.scoring.summary``. This module imports nothing from fs1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, NotRequired, TypedDict, cast

SUMMARY_FILE = "summary.json"
JUDGED_SUMMARY_FILE = "judged_summary.json"

# Metric names: the keys of a slice that hold {k: value} curves, and the run table's KG-selection metric.
# ``Final``: each is its literal type too, so a reader indexing a slice with it is checked against ``Stats``.
PASS_AT_K: Final = "pass@k"
MAJ_AT_K: Final = "maj@k"
KGSEL_AT_K: Final = "kgsel@k"
CURVE_METRICS: Final = (PASS_AT_K, MAJ_AT_K)
# Key of the ``by_budget`` entry for samples generated without a thinking budget.
NO_BUDGET_KEY = "none"

FACTUALITY_AT_K: Final = "factuality@k"


class Factuality(TypedDict):
    """The three-way outcome of the answer a majority vote selects from k samples."""

    accuracy: float
    attempted: float
    hallucination_rate: float
    accuracy_given_attempted: float
    hallucination_given_attempted: float
    simpleqa_f1: float


# One slice ``S`` of a summary; the curves are keyed by k as a string (JSON object keys). The functional form: curve
# names are no identifiers, and NotRequired is read at runtime (a class body's annotations are strings here).
Stats = TypedDict(
    "Stats",
    {
        "n_questions": int,
        "n_predictions": int,
        "accuracy": float,
        "exact": float,
        "f1": float,
        "no_answer_rate": float,
        "attempted": float,
        "accuracy_given_attempted": float,
        "hallucination_rate": float,
        "hallucination_given_attempted": float,
        "simpleqa_f1": float,
        "pass@k": dict[str, float],
        "maj@k": dict[str, float],
        "factuality@k": dict[str, Factuality],
        # 95 % bootstrap intervals of the numbers above (overall, by_source)
        "ci": NotRequired[dict[str, Any]],
        # Monte-Carlo standard errors where a subset average was sampled
        "mc_error": NotRequired[dict[str, Any]],
    },
)


# The numbers of a slice without k, in their declared order: the results table's rows (``fs1.run.results``) follow.
SCALAR_METRICS: Final = tuple(name for name, kind in Stats.__annotations__.items() if kind is float)


_JudgedCurves = TypedDict(
    "_JudgedCurves",
    {
        "attempted@k": dict[str, float],
        "accuracy_given_attempted@k": dict[str, float],
        "simpleqa_f1@k": dict[str, float],
    },
)


class JudgedStats(Stats, _JudgedCurves):
    """A slice of ``judged_summary.json``: the figures over judge verdicts plus SimpleQA's metrics."""


class Sections(TypedDict):
    """``overall`` and the by-source / by-hops / by-answer-type / by-topic slices of one set of units.

    ``by_hops`` is keyed "1", "2", "3", "3+" (4 hops and more); ``by_topic`` by ``Question.topic``."""

    overall: Stats
    by_source: dict[str, Stats]
    by_hops: dict[str, Stats]
    by_answer_type: dict[str, Stats]
    by_topic: dict[str, Stats]


class IdList(TypedDict):
    """A count of questions and their IDs (all of them, or the first few: ``fs1.scoring.accounting``)."""

    count: int
    ids: list[str]


class Excluded(IdList):
    """Questions left out of every number (IDs: all of them), with the number left out for each reason."""

    reasons: dict[str, int]


class Summary(Sections):
    """``summary.json``: ``n`` (smallest samples per unit), ``ks``, the question accounting (benchmark questions,
    excluded, without predictions, warnings: ``fs1.scoring.accounting``), the sections, and ``by_budget`` when the
    samples carry several thinking budgets (keyed by the budget as a string, or ``NO_BUDGET_KEY``)."""

    n: int
    ks: list[int]
    benchmark_questions: NotRequired[
        int
    ]  # NotRequired: summaries written before questions were accounted for
    excluded: NotRequired[Excluded]
    questions_without_predictions: NotRequired[IdList]
    warnings: NotRequired[list[str]]
    by_budget: NotRequired[dict[str, Sections]]
    extract: NotRequired[
        str
    ]  # the extraction rule (fs1.vocab.ExtractMode); absent in files written before it


class JudgedSections(TypedDict):
    """The sections of ``judged_summary.json``: the same slices, each with SimpleQA's metrics added."""

    overall: JudgedStats
    by_source: dict[str, JudgedStats]
    by_hops: dict[str, JudgedStats]
    by_answer_type: dict[str, JudgedStats]
    by_topic: dict[str, JudgedStats]


class JudgedSummary(JudgedSections):
    """``judged_summary.json``: the ``summary.json`` figures over judge verdicts plus what the judge run cost."""

    n: int
    ks: list[int]
    benchmark_questions: NotRequired[int]
    excluded: NotRequired[Excluded]
    questions_without_predictions: NotRequired[IdList]
    warnings: NotRequired[list[str]]
    by_budget: NotRequired[dict[str, JudgedSections]]
    extract: str  # the extraction rule of the answers the judge was shown
    judge: dict[str, Any]  # model, backend, prompt, system message, mode, sampling
    judge_calls: int
    cache_hits: int
    decided_by_rule: int
    rules: dict[str, int]  # verdicts decided by each rule of the cascade
    no_answer: int
    unique_answers: int
    deduplicated: int
    tokens: dict[str, int]  # "prompt", "completion"
    errors: int
    error_rate: float
    error_examples: list[str]
    verdicts: dict[str, int]  # verdict -> count


def load_summary(path: Path) -> Summary:
    """A ``summary.json`` that fs1 wrote, read as its declared shape (the report checks files of unknown origin)."""
    return cast(Summary, json.loads(path.read_text(encoding="utf-8")))
