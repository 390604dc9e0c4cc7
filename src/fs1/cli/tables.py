"""Console tables of figures by k (pass@k, maj@k): one column per k, headed by the bare k, so every k is shown and
no header is cut to "pass@…" on an 80-column terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


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
