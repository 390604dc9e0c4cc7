"""The results table (one row per model, setting, source, budget, k, metric) and KG-verified selection.

``results.parquet`` is queryable with DuckDB: ``SELECT * FROM 'RUNDIR/results.parquet' WHERE metric = 'pass@k'``.

KG-verified selection (beyond the paper, which reports only the pass@k upper bound): among a question's first k
sampled answers, keep those the KG supports (a short path from a question entity to an entity with that label);
majority vote among them, or among all answers when none is supported; ties go to the earliest sample. The first k
samples of i.i.d. draws are an unbiased sample of k, so the mean over questions estimates the expected accuracy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from fs1.records import Question
from fs1.summary_types import CURVE_METRICS, KGSEL_AT_K, MEAN_METRICS, Summary

SELECTION_METRIC = KGSEL_AT_K
COLUMNS = ("run", "model", "setting", "source", "budget", "k", "metric", "value")


def _section_rows(
    base: dict[str, Any], section: Mapping[str, Any], source: str, budget: int | None
) -> list[dict]:
    rows = []
    for metric in MEAN_METRICS:
        if metric in section:
            rows.append(
                {
                    **base,
                    "source": source,
                    "budget": budget,
                    "k": None,
                    "metric": metric,
                    "value": float(section[metric]),
                }
            )
    for metric in CURVE_METRICS:
        for k, value in (section.get(metric) or {}).items():
            rows.append(
                {
                    **base,
                    "source": source,
                    "budget": budget,
                    "k": int(k),
                    "metric": metric,
                    "value": float(value),
                }
            )
    return rows


def summary_rows(run: str, model: str, setting: str, summary: Summary) -> list[dict[str, Any]]:
    """Flatten one ``summary.json`` into table rows (overall and per source; per budget where present)."""
    base = {"run": run, "model": model, "setting": setting}
    rows = _section_rows(base, summary.get("overall", {}), "overall", None)
    for source, section in (summary.get("by_source") or {}).items():
        rows += _section_rows(base, section, source, None)
    for budget, sections in (summary.get("by_budget") or {}).items():
        b = int(budget) if str(budget).isdigit() else None
        rows += _section_rows(base, sections.get("overall", {}), "overall", b)
        for source, section in (sections.get("by_source") or {}).items():
            rows += _section_rows(base, section, source, b)
    return rows


def kg_selection(
    scores: Iterable[Mapping[str, Any]],
    questions: Mapping[str, Question],
    ks: list[int],
    supported: Callable[[Question, str], bool],
) -> dict[str, dict[int, float]]:
    """KG-select@k per source (and ``overall``) over (question, budget) units, from scored samples."""
    units: dict[tuple[str, Any], list[Mapping[str, Any]]] = {}
    for row in scores:
        units.setdefault(
            (str(row["id"]), row.get("budget", (row.get("meta") or {}).get("budget"))), []
        ).append(row)
    totals: dict[str, dict[int, list[float]]] = {}
    from fs1.scoring import normalize_answer

    for (qid, _), samples in units.items():
        samples.sort(key=lambda r: r["sample"])
        question = questions[qid]
        for k in ks:
            if k > len(samples):
                continue
            first = samples[:k]
            answered = [r for r in first if r.get("extracted")]
            pool = [r for r in answered if supported(question, r["extracted"])] or answered
            chosen = _vote(pool, normalize_answer)
            value = float(bool(chosen and chosen.get("correct")))
            for source in ("overall", question.source_of_data):
                totals.setdefault(source, {}).setdefault(k, []).append(value)
    return {src: {k: sum(v) / len(v) for k, v in by_k.items()} for src, by_k in totals.items()}


def _vote(pool: list[Mapping[str, Any]], normalise: Callable[[str], str]) -> Mapping[str, Any] | None:
    """Most frequent normalised answer; ties go to the answer seen first."""
    if not pool:
        return None
    keys = [normalise(r["extracted"]) for r in pool]
    counts = Counter(keys)
    best = max(counts.values())
    winner = next(key for key in keys if counts[key] == best)
    return pool[keys.index(winner)]


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
                ("budget", pa.int64()),
                ("k", pa.int64()),
                ("metric", pa.string()),
                ("value", pa.float64()),
            ]
        ),
    )
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh)
    return path
