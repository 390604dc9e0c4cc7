"""The results table (one row per model, setting, source or topic, budget, k, metric) and KG-verified selection.

``results.parquet`` is queryable with DuckDB: ``SELECT * FROM 'RUNDIR/results.parquet' WHERE metric = 'pass@k'``.
Rows of a topic slice (``by_topic``, all sources pooled) carry the topic in ``topic`` and a null ``source``; every
other row has ``topic`` null, so a query on ``source`` (``source = 'overall'``) never picks up topic rows.

KG-verified selection (beyond the paper, which reports only the pass@k upper bound): among k sampled answers, keep
those the KG supports (a short path from a question entity to an entity with that label); majority vote among them,
or among all answers when none is supported; a tie of t answers gives each 1/t. Like pass@k and maj@k, the value
of a question is averaged over all k-subsets of its n samples (``fs1.scoring.selection``: exact, or a seeded
Monte-Carlo average for very many subsets), which has less variance than using the first k samples only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fs1.records import Question
from fs1.summary_types import CURVE_METRICS, KGSEL_AT_K, SCALAR_METRICS, Summary

SELECTION_METRIC = KGSEL_AT_K
COLUMNS = ("run", "model", "setting", "source", "topic", "budget", "k", "metric", "value", "lo", "hi")
# The factuality of the maj@k answer, named maj_<x>@k (the numbers without k: ``summary_types.SCALAR_METRICS``).
VOTE_METRICS = (
    "attempted", "accuracy_given_attempted", "hallucination_rate", "hallucination_given_attempted", "simpleqa_f1"
)  # fmt: skip


def _row(base: dict[str, Any], value: float, interval: Any, **fields: Any) -> dict[str, Any]:
    lo, hi = interval if isinstance(interval, list | tuple) and len(interval) == 2 else (None, None)
    return {**base, **fields, "value": float(value), "lo": lo, "hi": hi}


def _section_rows(
    base: dict[str, Any],
    section: Mapping[str, Any],
    source: str | None,
    budget: int | None,
    topic: str | None = None,
) -> list[dict]:
    ci = section.get("ci") or {}
    where = {"source": source, "topic": topic, "budget": budget}
    rows = [
        _row(base, section[metric], ci.get(metric), **where, k=None, metric=metric)
        for metric in SCALAR_METRICS
        if metric in section
    ]
    for metric in CURVE_METRICS:
        for k, value in (section.get(metric) or {}).items():
            rows.append(_row(base, value, (ci.get(metric) or {}).get(k), **where, k=int(k), metric=metric))
    for k, outcome in (section.get("factuality@k") or {}).items():
        bounds = (ci.get("factuality@k") or {}).get(k) or {}
        for name in VOTE_METRICS:
            if name in outcome:
                rows.append(
                    _row(base, outcome[name], bounds.get(name), **where, k=int(k), metric=f"maj_{name}@k")
                )
    return rows


def summary_rows(run: str, model: str, setting: str, summary: Summary) -> list[dict[str, Any]]:
    """Flatten one ``summary.json`` into table rows (overall, per source and per topic; per budget where present),
    with the 95 % bootstrap interval of each number in ``lo`` / ``hi`` where the summary has one."""
    base = {"run": run, "model": model, "setting": setting}
    rows = _sections_rows(base, summary, None)
    for budget, sections in (summary.get("by_budget") or {}).items():
        rows += _sections_rows(base, sections, int(budget) if str(budget).isdigit() else None)
    return rows


def _sections_rows(base: dict[str, Any], sections: Mapping[str, Any], budget: int | None) -> list[dict]:
    rows = _section_rows(base, sections.get("overall", {}), "overall", budget)
    for source, section in (sections.get("by_source") or {}).items():
        rows += _section_rows(base, section, source, budget)
    for topic, section in (sections.get("by_topic") or {}).items():
        rows += _section_rows(base, section, None, budget, topic=topic)
    return rows


def kg_selection_rows(
    base: Mapping[str, Any],
    scores: Iterable[Mapping[str, Any]],
    questions: Mapping[str, Question],
    ks: list[int],
    supported: Callable[[Question, str], bool],
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``kgsel@k`` rows of the results table (per source and ``overall``), with 95 % bootstrap intervals over
    questions (seeded by ``seed``)."""
    from fs1.scoring.intervals import percentile_interval, replicate_means, slice_rng

    grouped = _by_source(kg_selection_units(scores, questions, ks, supported, seed), questions)
    rows = []
    for source, by_k in grouped.items():
        for k, pairs in by_k.items():
            qids, values = np.array([q for q, _ in pairs], dtype=object), np.array([v for _, v in pairs])
            replicates = replicate_means(values, qids, slice_rng(seed, f"{SELECTION_METRIC}/{source}/{k}"))
            lo, hi = (round(float(x), 6) for x in percentile_interval(replicates)[:, 0])
            where = {"source": source, "budget": None, "k": k, "metric": SELECTION_METRIC}
            rows.append(_row(dict(base), float(values.mean()), [lo, hi], **where))
    return rows


def kg_selection_units(
    scores: Iterable[Mapping[str, Any]],
    questions: Mapping[str, Question],
    ks: list[int],
    supported: Callable[[Question, str], bool],
    seed: int = 0,
) -> list[tuple[str, int, float]]:
    """Each (question, budget) unit's all-subsets KG-selection outcome per k, as (question ID, k, value)."""
    from fs1.scoring import normalize_answer
    from fs1.scoring.match import MATCH_EXCLUDED
    from fs1.scoring.selection import select_at_k, vote_groups

    units: dict[tuple[str, Any], list[Mapping[str, Any]]] = {}
    for row in scores:
        if row.get("match") == MATCH_EXCLUDED:
            continue  # left out of every number (gold answers that are only KG ids)
        units.setdefault(
            (str(row["id"]), row.get("budget", (row.get("meta") or {}).get("budget"))), []
        ).append(row)
    values: list[tuple[str, int, float]] = []
    for (qid, _), samples in units.items():
        samples.sort(key=lambda r: r["sample"])
        question = questions[qid]
        keys = [normalize_answer(r["extracted"]) if r.get("extracted") else "" for r in samples]
        ids = {key: i for i, key in enumerate(dict.fromkeys(k for k in keys if k))}
        first = {key: r["extracted"] for key, r in zip(keys, samples, strict=True) if key}
        support = {key: supported(question, first[key]) for key in ids}
        groups = vote_groups(
            [ids[key] if key else -1 for key in keys],
            [bool(r.get("correct")) for r in samples],
            [bool(key) for key in keys],
            [bool(key) and support[key] for key in keys],
        )
        for k in ks:
            if k <= len(samples):
                values.append((qid, k, select_at_k(groups, len(samples), k, seed).correct))
    return values


def _by_source(
    values: list[tuple[str, int, float]], questions: Mapping[str, Question]
) -> dict[str, dict[int, list[tuple[str, float]]]]:
    """Unit values as (question ID, value) pairs per source (and ``overall``) and k."""
    grouped: dict[str, dict[int, list[tuple[str, float]]]] = {}
    for qid, k, value in values:
        for source in ("overall", questions[qid].source_of_data):
            grouped.setdefault(source, {}).setdefault(k, []).append((qid, value))
    return grouped


def write_results(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write the table as Parquet atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fs1.io import atomic_open

    table = pa.Table.from_pylist(
        [{c: r.get(c) for c in COLUMNS} for r in rows],
        schema=pa.schema(
            [
                ("run", pa.string()),
                ("model", pa.string()),
                ("setting", pa.string()),
                ("source", pa.string()),
                ("topic", pa.string()),
                ("budget", pa.int64()),
                ("k", pa.int64()),
                ("metric", pa.string()),
                ("value", pa.float64()),
                ("lo", pa.float64()),
                ("hi", pa.float64()),
            ]
        ),
    )
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh)
    return path
