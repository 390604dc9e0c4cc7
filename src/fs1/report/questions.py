"""The report's question accounting: per run, how many benchmark questions were scored, excluded (gold answers that
cannot be scored, e.g. only KG ids) or had no prediction, with their IDs, and the summaries' warnings
(``fs1.scoring.accounting``). Every value is escaped."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from fs1.report.collect import RunView

IDS_SHOWN = 10  # IDs written in a cell; the cell's title holds every ID the summary lists


def _ids_cell(part: Mapping[str, Any] | None, kind: str, run: str) -> str:
    if not part:
        return "<td>–</td>"
    count, ids = int(part.get("count", 0)), [str(i) for i in part.get("ids") or []]
    shown = ", ".join(ids[:IDS_SHOWN]) + (f", … {count - IDS_SHOWN} more" if count > IDS_SHOWN else "")
    title = f' title="{escape(", ".join(ids))}"' if ids else ""
    text = f"{count}" + (f": {shown}" if ids else "")
    return f'<td class="label" data-run="{escape(run)}" data-kind="{kind}" data-count="{count}"{title}>{escape(text)}</td>'


def accounting_table(runs: list[RunView]) -> str:
    """One row per run: benchmark questions, scored, excluded (with IDs and why), without predictions (first IDs)."""
    rows, warnings = [], []
    for run in runs:
        summary = run.summary
        total = summary.get("benchmark_questions")
        excluded: Mapping[str, Any] = summary.get("excluded") or {}
        missing: Mapping[str, Any] = summary.get("questions_without_predictions") or {}
        scored = (
            total - int(excluded.get("count", 0)) - int(missing.get("count", 0))
            if total is not None
            else None
        )
        reasons = "; ".join(escape(str(r)) for r in (excluded.get("reasons") or {}))
        rows.append(
            f'<tr><td class="label">{escape(run.name)}</td>'
            f"<td>{'–' if total is None else total}</td><td>{'–' if scored is None else scored}</td>"
            f"{_ids_cell(excluded if total is not None else None, 'excluded', run.name)}"
            f"<td class='label'>{reasons or '–'}</td>"
            f"{_ids_cell(missing if total is not None else None, 'without-predictions', run.name)}</tr>"
        )
        warnings += [f"{run.name}: {w}" for w in summary.get("warnings") or []]
    notes = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return (
        '<table id="questions-table"><thead><tr><th class="label">run</th><th>benchmark questions</th>'
        "<th>scored</th><th>excluded</th><th>why excluded</th><th>without predictions</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        + (f'<ul id="summary-warnings" class="note">{notes}</ul>' if notes else "")
    )
