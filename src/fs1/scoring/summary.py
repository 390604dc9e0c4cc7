"""Aggregation of per-sample verdicts into the summary that the judge, report and runner stages read.

The unit of aggregation is a question, or a (question, budget) pair when the samples carry several distinct budgets.
Shape (keep it; other stages read it)::

    {"n": <samples per unit (the smallest, if they differ)>, "ks": [k, ...],
     "overall": S, "by_source": {source: S}, "by_hops": {"1": S, "2": S, "3": S, "3+": S},
     "by_answer_type": {type: S}, "by_topic": {topic: S},
     "by_budget": {"<budget>": {"overall": S, "by_source": ..., "by_hops": ..., "by_answer_type": ...,
                                "by_topic": ...}}}  # if budgets

    S = {"n_questions", "n_predictions", "accuracy", "exact", "f1", "no_answer_rate",
         "attempted", "accuracy_given_attempted", "hallucination_rate", "hallucination_given_attempted",
         "simpleqa_f1", "pass@k": {"1": x, ...}, "maj@k": {"1": x, ...},
         "factuality@k": {"1": F, ...}, "ci": {<every number above>: [lo, hi]}, "mc_error": {...}}  # if Monte-Carlo
    F = {"accuracy", "attempted", "hallucination_rate", "accuracy_given_attempted",
         "hallucination_given_attempted", "simpleqa_f1"}   # of the answer majority vote selects from k samples

- ``n_questions`` counts units (with several budgets, each (question, budget) pair is one unit, and the top-level
  sections pool the units of all budgets); ``n_predictions`` counts samples.
- ``accuracy``, ``exact``, ``f1`` and ``no_answer_rate`` are per-sample means taken within each unit, then averaged over
  units, so each unit weighs the same even when sample counts differ (with equal counts: the plain per-sample mean;
  ``accuracy`` then equals pass@1).
- Three-way outcome (``fs1.scoring.outcome``): a sample is *not attempted* when it has no answer or refuses ("I
  don't know"); *incorrect* when attempted and not correct. ``attempted`` and ``hallucination_rate`` (incorrect /
  all) are unit means like accuracy; ``accuracy_given_attempted`` and ``hallucination_given_attempted`` divide by
  ``attempted``; ``simpleqa_f1`` is the harmonic mean of ``accuracy`` and ``accuracy_given_attempted``. A row may
  carry its own ``attempted`` (judge verdicts); otherwise the refusal rule decides.
- ``ks`` are the requested k that are at most the smallest sample count of any unit, so every pass@k / maj@k is over
  the same units; each unit uses its own n. pass@k: ``fs1.scoring.metrics``. maj@k and ``factuality@k``: the
  majority vote averaged over all k-subsets (``fs1.scoring.selection``; at k = 1 ``factuality@k`` equals the
  per-sample rates). ``mc_error`` holds the Monte-Carlo standard errors where a subset average was sampled.
- ``ci``: 95 % bootstrap intervals over questions (``fs1.scoring.intervals``; seeded by ``seed``) of the headline
  slices: ``overall`` and ``by_source`` (per budget too); questions are resampled within each source.
  ``by_hops`` / ``by_answer_type`` / ``by_topic`` (no intervals) hold only questions where the field is known.
- Question accounting (``fs1.scoring.accounting``): ``benchmark_questions``, ``excluded`` (questions that cannot be
  scored, left out of every number above: gold answers that are only KG ids, or records the loader skipped that
  predictions name), ``questions_without_predictions`` and
  ``warnings`` sit beside the sections.
- ``by_hops`` keys are the protocol's hop slices: "1", "2", "3", and "3+" pooling every count of 4 or more ("0",
  a question entity that is its own answer, stays "0"). ``by_topic`` keys are ``Question.topic`` as loaded.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from fs1.errors import ConfigError, InputError
from fs1.io import collector_paused
from fs1.records import Question, Score
from fs1.scoring.accounting import NO_SKIPS, account, scored_columns
from fs1.scoring.intervals import percentile_interval, replicate_sums_parallel, slice_rng
from fs1.scoring.match import match_answer, scoring_gold
from fs1.scoring.metrics import pass_at_k_array
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.outcome import starts_as_refusal
from fs1.scoring.votes import vote_outcomes
from fs1.summary_types import NO_BUDGET_KEY, Summary
from fs1.vocab import DEFAULT_KS

# The protocol slices hops as 1, 2, 3, 3+: counts above 3 share one slice.
HOPS_POOL_ABOVE = 3
HOPS_POOLED = f"{HOPS_POOL_ABOVE}+"


class DuplicateSampleError(InputError):
    """Two verdicts for one (question, budget, sample); ``position`` is the 0-based index of the second one."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def _integers() -> array[int]:
    return array("q")


def _flags() -> array[int]:
    return array("b")


def _floats() -> array[float]:
    return array("d")


@dataclass
class VerdictColumns:
    """Per-sample verdicts gathered column-wise (cheap to append millions of, fast to aggregate with numpy).

    The columns are typed arrays (``array.array``: 64-bit integers, 0/1 flags, doubles), appended to like lists but
    held as one block of machine values each: they travel between processes and reach numpy as a copy of bytes.
    """

    unit_keys: dict[tuple[str, int | None], int] = field(default_factory=dict)
    answer_ids: dict[str, int] = field(default_factory=dict)
    refusals: array[int] = field(default_factory=_flags)  # per answer id: does the answer start as a refusal
    unit: array[int] = field(default_factory=_integers)
    sample: array[int] = field(default_factory=_integers)
    correct: array[int] = field(default_factory=_flags)
    exact: array[int] = field(default_factory=_flags)
    f1: array[float] = field(default_factory=_floats)
    answer: array[int] = field(default_factory=_integers)
    attempted_given: dict[int, bool] = field(default_factory=dict)  # position -> a judge's attempted verdict

    def add(
        self,
        qid: str,
        budget: int | None,
        sample: int,
        correct: bool,
        exact: bool,
        f1: float,
        extracted: str | None,
        attempted: bool | None = None,
    ) -> None:
        """Record one sample's verdict; ``extracted`` (normalised here) is its vote for maj@k."""
        key = normalize_answer(extracted) if extracted is not None else ""
        self.add_verdict(qid, budget, sample, correct, exact, f1, key, attempted)

    def add_verdict(
        self,
        qid: str,
        budget: int | None,
        sample: int,
        correct: bool,
        exact: bool,
        f1: float,
        answer_key: str,
        attempted: bool | None = None,
    ) -> None:
        """Record one sample's verdict with its already normalised answer (``""``: no answer).

        ``attempted``: a verdict's own attempted flag (judge); ``None`` lets the refusal rule decide.
        """
        unit = self.unit_keys.setdefault((qid, budget), len(self.unit_keys))
        if attempted is not None:
            self.attempted_given[len(self.unit)] = bool(attempted)
        self.unit.append(unit)
        self.sample.append(sample)
        self.correct.append(bool(correct))
        self.exact.append(bool(exact))
        self.f1.append(float(f1))
        self.answer.append(self.answer_id(answer_key) if answer_key else -1)

    def answer_id(self, answer_key: str, refusal: bool | None = None) -> int:
        """The id of a normalised answer, numbered on first sight with its refusal flag (``refusal``: already known,
        as when merging another ``VerdictColumns``; ``None``: tested here)."""
        answer = self.answer_ids.get(answer_key)
        if answer is None:
            answer = self.answer_ids[answer_key] = len(self.answer_ids)
            self.refusals.append(starts_as_refusal(answer_key) if refusal is None else refusal)
        return answer

    def attempted(self) -> np.ndarray:
        """Per sample: attempted (an answer that is no refusal, or correct), or the verdict's own flag."""
        answer = np.asarray(self.answer, dtype=np.int64)
        refusal = (
            np.asarray(self.refusals, dtype=bool)[np.maximum(answer, 0)] if self.refusals else answer < -1
        )
        out = (answer >= 0) & ~(refusal & ~np.asarray(self.correct, dtype=bool))
        if self.attempted_given:
            positions = np.fromiter(self.attempted_given, dtype=np.int64)
            out[positions] = np.fromiter(self.attempted_given.values(), dtype=bool)
        return out

    def extend(self, other: VerdictColumns) -> None:
        """Append the verdicts of ``other`` (gathered apart, e.g. by a worker process) after these ones.

        Units and answers new here are numbered in ``other``'s order of first appearance, so gathering a file in
        pieces and extending piece by piece numbers them as gathering it in one go would.
        """
        units = [self.unit_keys.setdefault(key, len(self.unit_keys)) for key in other.unit_keys]
        # other's refusal flags are aligned with its answers (both in order of first appearance): reused, not redone.
        answers = [
            self.answer_id(key, bool(refusal))
            for key, refusal in zip(other.answer_ids, other.refusals, strict=True)
        ]
        offset = len(self.unit)
        self.attempted_given.update(
            {offset + position: flag for position, flag in other.attempted_given.items()}
        )
        if other.unit:
            local = np.frombuffer(other.unit, dtype=np.int64)
            self.unit.frombytes(np.asarray(units, dtype=np.int64)[local].tobytes())
            # (index -1, no answer, picks the -1 appended last)
            local = np.frombuffer(other.answer, dtype=np.int64)
            self.answer.frombytes(np.asarray([*answers, -1], dtype=np.int64)[local].tobytes())
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
    seed: int = 0,
    intervals: bool = True,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> Summary:
    """Aggregate per-sample verdicts from any source (rule scorer or judge) into the summary (module docstring).

    Each row needs ``id``, ``sample``, ``correct`` and ``extracted`` (``None``: no answer); ``budget`` is read from the
    row or its ``meta``. ``exact`` and ``f1``, when missing, are computed from ``extracted`` by the rule matcher;
    ``attempted``, when present, overrides the refusal rule. ``skipped``: records the benchmark's loader skipped that
    the predictions name (``fs1.scoring.accounting.named_skips``), excluded. Raises ``ValueError`` for an unknown
    question ID or a duplicate (id, budget, sample).
    """
    columns = VerdictColumns()
    for row in rows:
        data = row.to_dict() if isinstance(row, Score) else row
        qid = str(data["id"])
        question = questions.get(qid)
        if question is None and qid not in skipped:
            raise InputError(f"verdict for unknown question ID {qid!r}")
        budget = data.get("budget", (data.get("meta") or {}).get("budget"))
        extracted = data.get("extracted")
        exact, f1 = data.get("exact"), data.get("f1")
        if exact is None or f1 is None:
            gold = scoring_gold(question) if question is not None else ()
            result = match_answer(extracted, gold) if gold else None  # an excluded question: left out below
            exact, f1 = (result.exact, result.f1) if result else (False, 0.0)
        attempted = data.get("attempted")
        columns.add(
            qid, budget, int(data["sample"]), bool(data["correct"]), exact, f1, extracted,
            None if attempted is None else bool(attempted),
        )  # fmt: skip
    return aggregate(columns, questions, ks, seed=seed, intervals=intervals, skipped=skipped)


def aggregate(
    columns: VerdictColumns,
    questions: Mapping[str, Question],
    ks: Sequence[int] | None,
    seed: int = 0,
    intervals: bool = True,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> Summary:
    """The summary of gathered verdicts; ``DuplicateSampleError`` names the position of a repeated sample.

    ``seed`` seeds the bootstrap intervals (and any Monte-Carlo subset average); ``intervals=False`` leaves ``ci``
    out (for summaries that are only read for their point values). ``skipped``: records the benchmark's loader
    skipped that the predictions name (``fs1.scoring.accounting.named_skips``), excluded like questions that cannot
    be scored.
    """
    # (A fifth of the time at 1.7M verdicts went to collector passes over the questions; nothing here makes cycles.)
    with collector_paused():
        return _aggregate(columns, questions, ks, seed, intervals, skipped)


def _aggregate(
    columns: VerdictColumns,
    questions: Mapping[str, Question],
    ks: Sequence[int] | None,
    seed: int,
    intervals: bool,
    skipped: Mapping[str, str],
) -> Summary:
    requested = sorted(set(DEFAULT_KS if ks is None else ks))
    if any(k < 1 for k in requested):
        raise ConfigError(f"k must be >= 1, got {requested}")
    if not len(columns):
        raise InputError("no predictions to summarise")
    accounting = account((qid for qid, _ in columns.unit_keys), questions, skipped)
    columns, kept = scored_columns(columns, questions, accounting)
    try:
        per_unit = _per_unit_values(columns, requested, seed)
    except DuplicateSampleError as exc:  # name the position among all verdicts, not among the kept ones
        raise DuplicateSampleError(str(exc), kept[exc.position] if kept else exc.position) from None
    keys = list(columns.unit_keys)
    meta = [questions[qid] for qid, _ in keys]
    budgets = [budget for _, budget in keys]
    qids = np.array([qid for qid, _ in keys], dtype=object)
    context = _SliceContext.build(per_unit, meta, qids, seed, intervals)
    masks = {"": np.ones(len(keys), dtype=bool)}
    distinct = sorted(set(budgets), key=lambda b: (b is None, b or 0))
    if len(distinct) > 1:
        masks.update({f"budget={b}/": np.array([x == b for x in budgets]) for b in distinct})
    replicates = _bootstrap(context, masks)
    summary: dict[str, Any] = {"n": per_unit["min_n"], "ks": per_unit["ks"], **accounting.fields()}
    summary.update(_sections(context, masks[""], replicates[""]))
    if len(distinct) > 1:
        summary["by_budget"] = {
            _budget_key(b): _sections(context, masks[f"budget={b}/"], replicates[f"budget={b}/"])
            for b in distinct
        }
    return cast(Summary, summary)  # built to the declared shape (tests/test_contracts.py walks it)


def _budget_key(budget: int | None) -> str:
    return NO_BUDGET_KEY if budget is None else str(budget)


def _unit_sample_order(unit: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """``np.lexsort((sample, unit))``, from one stable sort of a combined key where it fits in 62 bits: a file lists
    the samples of a unit together and in order, and a stable sort of keys already in order is one pass over them."""
    if not unit.size or sample.min() < 0:
        return np.lexsort((sample, unit))
    width = int(sample.max()) + 1
    if width * (int(unit.max()) + 1) >= 1 << 62:
        return np.lexsort((sample, unit))
    return np.argsort(unit * width + sample, kind="stable")


def _per_unit_values(columns: VerdictColumns, requested: list[int], seed: int) -> dict[str, Any]:
    unit = np.asarray(columns.unit, dtype=np.int64)
    sample = np.asarray(columns.sample, dtype=np.int64)
    order = _unit_sample_order(unit, sample)
    unit, sample = unit[order], sample[order]
    repeated = np.flatnonzero((unit[1:] == unit[:-1]) & (sample[1:] == sample[:-1]))
    if repeated.size:
        position = int(order[repeated[0] + 1])
        qid, budget = list(columns.unit_keys)[unit[repeated[0]]]
        where = f"question {qid!r}" + ("" if budget is None else f" budget {budget}")
        raise DuplicateSampleError(f"duplicate sample {int(sample[repeated[0]])} for {where}", position)
    correct = np.asarray(columns.correct, dtype=bool)[order]
    attempted = columns.attempted()[order]
    answer = np.asarray(columns.answer, dtype=np.int64)[order]
    n_units = len(columns.unit_keys)
    n = np.bincount(unit, minlength=n_units)
    c = np.bincount(unit, weights=correct, minlength=n_units)
    min_n = int(n.min())
    ks = [k for k in requested if k <= min_n]

    def unit_mean(values: list | np.ndarray) -> np.ndarray:
        return np.bincount(unit, weights=np.asarray(values, dtype=float), minlength=n_units) / n

    vote = vote_outcomes(unit, answer, correct, attempted, n, ks, seed)
    values = {
        "accuracy": c / n,
        "exact": unit_mean(np.asarray(columns.exact)[order]),
        "f1": unit_mean(np.asarray(columns.f1)[order]),
        "no_answer_rate": unit_mean(answer < 0),
        "attempted": unit_mean(attempted),
        "hallucination_rate": unit_mean(attempted & ~correct),
    }
    for k in ks:
        values[f"pass@{k}"] = pass_at_k_array(n, c.astype(np.int64), k)
        values[f"vote_correct@{k}"], values[f"vote_attempted@{k}"] = vote[k][0], vote[k][1]
    return {
        "min_n": min_n,
        "ks": ks,
        "n": n,
        "values": values,
        "mc_error": {k: vote[k][2] for k in ks if vote[k][2].any()},
    }


@dataclass(frozen=True)
class _SliceContext:
    per_unit: dict[str, Any]
    meta: list[Question]
    qids: np.ndarray
    seed: int
    intervals: bool
    columns: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # units x columns of per-unit values
    slices: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # per unit: its source, hops, answer type, topic

    @classmethod
    def build(
        cls, per_unit: dict[str, Any], meta: list[Question], qids: np.ndarray, seed: int, intervals: bool
    ):
        columns = list(per_unit["values"])
        matrix = np.stack([per_unit["values"][c] for c in columns], axis=1)
        slices = {
            "source": np.array([q.source_of_data for q in meta], dtype=object),
            "hops": np.array([hops_slice(q.hops) for q in meta], dtype=object),
            "answer_type": np.array([q.answer_type for q in meta], dtype=object),
            "topic": np.array([q.topic for q in meta], dtype=object),
        }
        return cls(per_unit, meta, qids, seed, intervals, columns, matrix, slices)


Replicates = tuple[np.ndarray, np.ndarray]  # bootstrap (column sums, unit counts) per draw


def _bootstrap(context: _SliceContext, masks: dict[str, np.ndarray]) -> dict[str, dict[str, Replicates]]:
    """Per section (prefix -> its units) and source: the replicates of that source's units, each source resampled
    with its own seeded generator; all drawn at once, on threads (``intervals.replicate_sums_parallel``)."""
    out: dict[str, dict[str, Replicates]] = {prefix: {} for prefix in masks}
    if not context.intervals:
        return out
    sources = context.slices["source"]
    jobs = [
        (prefix, source, mask & (sources == source))
        for prefix, mask in masks.items()
        for source in _present(sources, mask)
    ]
    replicates = replicate_sums_parallel(
        [
            (
                context.matrix[inside],
                context.qids[inside],
                slice_rng(context.seed, f"{prefix}source={source}"),
            )
            for prefix, source, inside in jobs
        ]
    )
    for (prefix, source, _), replicate in zip(jobs, replicates, strict=True):
        out[prefix][source] = replicate
    return out


def _present(values: np.ndarray, mask: np.ndarray) -> list[str]:
    present = set(values[mask].tolist())
    present.discard(None)
    return sorted(present, key=_natural_key)


def _sections(context: _SliceContext, mask: np.ndarray, replicates: dict[str, Replicates]) -> dict[str, Any]:
    """``overall`` and the by-source / by-hops / by-answer-type / by-topic slices of the units in ``mask``.

    Intervals (headline slices only: overall and by source) resample questions within each source and pool the
    sources for ``overall``, so one draw per question serves both (``replicates``: per source, from ``_bootstrap``).
    """
    sources = context.slices["source"]
    present = _present(sources, mask)
    pooled = (
        cast(Replicates, (sum(r[0] for r in replicates.values()), sum(r[1] for r in replicates.values())))
        if replicates
        else None
    )

    def by(values: np.ndarray) -> dict[str, Any]:
        return {v: _stats(context, mask & (values == v)) for v in _present(values, mask)}

    return {
        "overall": _stats(context, mask, pooled),
        "by_source": {s: _stats(context, mask & (sources == s), replicates.get(s)) for s in present},
        "by_hops": by(context.slices["hops"]),
        "by_answer_type": by(context.slices["answer_type"]),
        "by_topic": by(context.slices["topic"]),
    }


def hops_slice(hops: int | None) -> str | None:
    """The ``by_hops`` key of a hop count: "1", "2", "3" as they are, 4 and more pooled into "3+"."""
    if hops is None:
        return None
    return HOPS_POOLED if hops > HOPS_POOL_ABOVE else str(hops)


def _natural_key(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


def _stats(context: _SliceContext, mask: np.ndarray, replicates: Replicates | None = None) -> dict[str, Any]:
    """Every number of one slice; with ``replicates``, also their 95 % intervals (``ci``)."""
    per_unit = context.per_unit
    ks: list[int] = per_unit["ks"]
    columns = context.columns
    means = context.matrix[mask].mean(axis=0) if mask.any() else np.zeros(len(columns))
    point = _report(dict(zip(columns, means[:, None], strict=True)), ks)
    stats: dict[str, Any] = {"n_questions": int(mask.sum()), "n_predictions": int(per_unit["n"][mask].sum())}
    stats.update(_rounded(point, lambda v: round(float(v[0]), 6)))
    if replicates is not None and mask.any():
        sums, units = replicates
        replicate_columns = (sums / units[:, None]).T
        bounds = percentile_interval(_flat(_report(dict(zip(columns, replicate_columns, strict=True)), ks)))
        stats["ci"] = _unflat(bounds, point)
    errors = {
        str(k): round(float(np.sqrt((e[mask] ** 2).sum()) / max(mask.sum(), 1)), 6)
        for k, e in per_unit["mc_error"].items()
    }
    if errors:
        stats["mc_error"] = {"maj@k": errors}
    return stats


def _report(means: dict[str, np.ndarray], ks: list[int]) -> dict[str, Any]:
    """Every reported number of a slice from its column means (arrays: one value, or one per replicate)."""
    out: dict[str, Any] = {
        "accuracy": means["accuracy"],
        "exact": means["exact"],
        "f1": means["f1"],
        "no_answer_rate": means["no_answer_rate"],
        **_three_way(means["accuracy"], means["attempted"], means["hallucination_rate"]),
        "pass@k": {str(k): means[f"pass@{k}"] for k in ks},
        "maj@k": {str(k): means[f"vote_correct@{k}"] for k in ks},
    }
    out["factuality@k"] = {
        str(k): {"accuracy": means[f"vote_correct@{k}"]}
        | _three_way(
            means[f"vote_correct@{k}"],
            means[f"vote_attempted@{k}"],
            means[f"vote_attempted@{k}"] - means[f"vote_correct@{k}"],
        )
        for k in ks
    }
    return out


def _three_way(accuracy: np.ndarray, attempted: np.ndarray, incorrect: np.ndarray) -> dict[str, np.ndarray]:
    given = _divide(accuracy, attempted)
    return {
        "attempted": attempted,
        "accuracy_given_attempted": given,
        "hallucination_rate": incorrect,
        "hallucination_given_attempted": _divide(incorrect, attempted),
        "simpleqa_f1": _divide(2 * accuracy * given, accuracy + given),
    }


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ratio, 0 where the denominator is 0 (nothing attempted: nothing right or wrong either)."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _rounded(tree: Any, leaf: Any) -> Any:
    return {k: _rounded(v, leaf) for k, v in tree.items()} if isinstance(tree, dict) else leaf(tree)


def _flat(tree: Any) -> np.ndarray:
    """The leaves of a nested dict of equal-length arrays as the columns of one matrix (dict order)."""
    leaves: list[np.ndarray] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        else:
            leaves.append(node)

    walk(tree)
    return np.stack(leaves, axis=1)


def _unflat(bounds: np.ndarray, shape: Any) -> Any:
    """``bounds`` (2, leaves) back into the nested shape of ``shape``, each leaf as ``[lo, hi]``."""
    position = iter(range(bounds.shape[1]))

    def build(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: build(value) for key, value in node.items()}
        i = next(position)
        return [round(float(bounds[0, i]), 6), round(float(bounds[1, i]), 6)]

    return build(shape)
