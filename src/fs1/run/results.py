"""The results table (one row per model, setting, source, budget, k, metric) and KG-verified selection.

``results.parquet`` is queryable with DuckDB: ``SELECT * FROM 'RUNDIR/results.parquet' WHERE metric = 'pass@k'``.

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

from fs1.records import Question

SELECTION_METRIC = "kgsel@k"
COLUMNS = ("run", "model", "setting", "source", "budget", "k", "metric", "value")


def _section_rows(
    base: dict[str, Any], section: Mapping[str, Any], source: str, budget: int | None
) -> list[dict]:
    rows = []
    for metric in ("accuracy", "exact", "f1", "no_answer_rate"):
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
    for metric in ("pass@k", "maj@k"):
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


def summary_rows(run: str, model: str, setting: str, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
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
    seed: int = 0,
) -> dict[str, dict[int, float]]:
    """KG-select@k per source (and ``overall``) over (question, budget) units, from scored samples.

    ``supported(question, answer)`` is asked once per distinct normalised answer of a question (its first form).
    """
    from fs1.scoring import normalize_answer
    from fs1.scoring.selection import select_at_k, vote_groups

    units: dict[tuple[str, Any], list[Mapping[str, Any]]] = {}
    for row in scores:
        units.setdefault(
            (str(row["id"]), row.get("budget", (row.get("meta") or {}).get("budget"))), []
        ).append(row)
    totals: dict[str, dict[int, list[float]]] = {}
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
            if k > len(samples):
                continue
            value = select_at_k(groups, len(samples), k, seed).correct
            for source in ("overall", question.source_of_data):
                totals.setdefault(source, {}).setdefault(k, []).append(value)
    return {src: {k: sum(v) / len(v) for k, v in by_k.items()} for src, by_k in totals.items()}


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
