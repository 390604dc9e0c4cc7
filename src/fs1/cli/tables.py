"""Console tables of figures by k (pass@k, maj@k): one column per k, headed by the bare k, so every k is shown and
no header is cut to "pass@…" on an 80-column terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fs1.summary_types import IdList, JudgedSummary, Summary


def by_k_table(title: str, ks: Sequence[str], rows: Sequence[tuple[str, Mapping[str, float | None]]]) -> Any:
    """A Rich table: one row per (label, {k: value}), one right-aligned column per k, values to 3 decimals."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("slice", justify="left", no_wrap=True)
    for k in ks:
        table.add_column(f"k={k}", justify="right", no_wrap=True, min_width=len(f"k={k}"))
    for label, values in rows:
        table.add_row(label, *[_fmt(values.get(k)) for k in ks])
    return table


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def accounting_line(summary: Summary | JudgedSummary) -> str:
    """Where the benchmark's questions went (``fs1.scoring.accounting``): scored, excluded, without predictions,
    with the first IDs of each; printed by ``fs1 score`` and ``fs1 judge`` alike."""
    excluded: IdList = summary.get("excluded") or {"count": 0, "ids": []}
    missing: IdList = summary.get("questions_without_predictions") or {"count": 0, "ids": []}
    total = summary.get("benchmark_questions")
    if total is None:  # a summary written before questions were accounted for
        return f"questions scored: {summary['overall']['n_questions']}"
    scored = total - excluded["count"] - missing["count"]
    line = f"questions: {total} in the benchmark, {scored} scored, {excluded['count']} excluded"
    if excluded["count"]:
        line += f" ({_first(excluded['ids'], excluded['count'])})"
    line += f", {missing['count']} without predictions"
    if missing["count"]:
        line += f" ({_first(missing['ids'], missing['count'])})"
    return line


def _first(ids: list[str], count: int, shown: int = 5) -> str:
    return ", ".join(ids[:shown]) + (f", … {count - shown} more" if count > shown else "")
