"""Render the self-contained ``report.html``: tables in the paper's shape, plots, slices, trace stats, viewer.

Every number cell carries ``data-value`` (the exact fraction from ``summary.json``) and shows it as a percentage
with one decimal, so a browser test can compare the page with the summaries.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from fs1.io import atomic_open
from fs1.redact import redact_text
from fs1.report import factuality, plots, questions
from fs1.report.collect import ReportData, RunView, collect
from fs1.summary_types import KGSEL_AT_K, MAJ_AT_K, PASS_AT_K

SELECTION_METRIC = KGSEL_AT_K
FACTUALITY_NOTE = (
    "Per run, budget and k: the answer a majority vote selects from k samples (averaged over all k-subsets) is "
    "correct, hallucinated (attempted but wrong) or not attempted (no answer, or a refusal such as 'I don't "
    "know'). k = 1 is the per-sample rate. Brackets: 95% bootstrap intervals over questions. Fewer "
    "hallucinations with fewer correct answers means the model abstains more, not that it knows more."
)
QUESTIONS_NOTE = (
    "Every number above covers the scored questions only. Excluded questions cannot be scored (their gold answers "
    "are only knowledge-graph ids: convert the dataset with --kg to label them); questions without predictions were "
    "in the benchmark but no prediction names them."
)
PAIRED_NOTE = (
    "Same questions, two runs: A - B is the mean per-question accuracy difference in points with its 95% "
    "paired-bootstrap interval; 'A better' / 'B better' count questions one run answers right more often; p is "
    "the exact two-sided sign test on them (McNemar with one sample per question). Click a question to open it "
    "in the trace viewer."
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _cell(value: float | None, interval: Any = None, **attrs: Any) -> str:
    """A percentage cell; with ``interval`` ([lo, hi] from a summary's ``ci``), its bounds in data-lo / data-hi
    and in the tooltip."""
    data = "".join(f' data-{k}="{escape(str(v))}"' for k, v in attrs.items())
    raw = "" if value is None else f' data-value="{escape(repr(value))}"'
    if isinstance(interval, list | tuple) and len(interval) == 2 and value is not None:
        lo, hi = (float(x) for x in interval)
        raw += f' data-lo="{lo!r}" data-hi="{hi!r}" title="{escape(f"95% CI {_pct(lo)}-{_pct(hi)}")}"'
    return f"<td{data}{raw}>{_pct(value)}</td>"


def _ci(section: Mapping[str, Any], metric: str, k: str | None = None) -> Any:
    """The interval of ``metric`` (at ``k``) in a summary slice, or ``None``."""
    found = (section.get("ci") or {}).get(metric)
    return (found or {}).get(k) if k is not None else found


def _max_k(section: Mapping[str, Any]) -> str | None:
    ks = [int(k) for k in section.get(PASS_AT_K, {})]
    return str(max(ks)) if ks else None


def main_table(data: ReportData) -> str:
    """Rows model × setting; columns datasets (+ overall); pass@1 and pass@k (largest k) per column."""
    head = "".join(f'<th colspan="2">{escape(s)}</th>' for s in [*data.sources, "Overall"])
    sub = "".join("<th>pass@1</th><th>pass@k</th>" for _ in [*data.sources, "Overall"])
    rows = []
    for run in data.runs:
        cells = []
        for source in [*data.sources, "Overall"]:
            found = run.summary["overall"] if source == "Overall" else run.summary["by_source"].get(source)
            sec: Mapping[str, Any] = found or {}
            kmax = _max_k(sec)
            p1 = sec.get(PASS_AT_K, {}).get("1")
            pk = sec.get(PASS_AT_K, {}).get(kmax) if kmax else None
            cells.append(_cell(p1, _ci(sec, PASS_AT_K, "1"), run=run.name, source=source, metric="pass@1"))
            pk_ci = _ci(sec, PASS_AT_K, kmax) if kmax else None
            cells.append(_cell(pk, pk_ci, run=run.name, source=source, metric=f"pass@{kmax}"))
        rows.append(
            f'<tr><td class="label">{escape(run.model)}</td><td class="label">{escape(run.setting)}</td>{"".join(cells)}</tr>'
        )
    return (
        '<table id="main-table"><thead><tr><th class="label" rowspan="2">model</th>'
        f'<th class="label" rowspan="2">setting</th>{head}</tr><tr>{sub}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def selection_by_run(data: ReportData) -> dict[str, dict[str, float]]:
    """KG-verified selection accuracy per run and k (overall), from the results table."""
    out: dict[str, dict[str, float]] = {}
    for row in data.results:
        if (
            row.get("metric") == SELECTION_METRIC
            and row.get("source") == "overall"
            and row.get("budget") is None
        ):
            out.setdefault(row["run"], {})[str(row["k"])] = row["value"]
    return out


def _selection_interval(data: ReportData, run: str, k: str) -> list[float] | None:
    """[lo, hi] of the overall KG-selection at ``k`` from the results table, where it has them."""
    for row in data.results:
        if (row.get("run"), row.get("metric"), row.get("source"), str(row.get("k"))) == (
            run,
            SELECTION_METRIC,
            "overall",
            k,
        ) and row.get("budget") is None:
            return [row["lo"], row["hi"]] if row.get("lo") is not None else None
    return None


def selection_table(data: ReportData, selection: dict[str, dict[str, float]]) -> str:
    """pass@k (oracle upper bound) next to maj@k and KG-verified selection at the largest k."""
    rows = []
    for run in data.runs:
        overall = run.summary.get("overall", {})
        kmax = _max_k(overall)
        if kmax is None:
            continue
        pk = overall.get(PASS_AT_K, {}).get(kmax)
        mk = overall.get(MAJ_AT_K, {}).get(kmax)
        sk = selection.get(run.name, {}).get(kmax)
        recovered = None if not pk or sk is None else sk / pk
        rows.append(
            f'<tr><td class="label">{escape(run.name)}</td><td>{escape(kmax)}</td>'
            + _cell(
                overall.get(PASS_AT_K, {}).get("1"),
                _ci(overall, PASS_AT_K, "1"),
                run=run.name,
                metric="pass@1",
            )
            + _cell(pk, _ci(overall, PASS_AT_K, kmax), run=run.name, metric="pass@k")
            + _cell(mk, _ci(overall, MAJ_AT_K, kmax), run=run.name, metric="maj@k")
            + _cell(sk, _selection_interval(data, run.name, kmax), run=run.name, metric=SELECTION_METRIC)
            + _cell(recovered, run=run.name, metric="recovered")
            + "</tr>"
        )
    return (
        '<table id="selection-table"><thead><tr><th class="label">run</th><th>k</th><th>pass@1</th><th>pass@k</th>'
        "<th>maj@k</th><th>KG-select@k</th><th>share of pass@k recovered</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _slices(run: RunView, key: str) -> Mapping[str, Any]:
    """The slices ``key`` (by_hops, by_answer_type, by_topic) of a run's summary; none in an older summary."""
    sections: Mapping[str, Any] = run.summary
    return sections.get(key) or {}


def slice_table(data: ReportData, key: str, table_id: str) -> str:
    """pass@1 per slice value (hops, answer type or topic), one row per run."""
    values = sorted({v for run in data.runs for v in _slices(run, key)}, key=str)
    if not values:
        return "<p class='note'>No slice information in this benchmark.</p>"
    head = "".join(f"<th>{escape(str(v))}</th>" for v in values)
    rows = []
    for run in data.runs:
        sec = _slices(run, key)
        cells = "".join(
            _cell((sec.get(v) or {}).get(PASS_AT_K, {}).get("1"), run=run.name, slice=v, metric="pass@1")
            for v in values
        )
        counts = escape("/".join(str((sec.get(v) or {}).get("n_questions", 0)) for v in values))
        rows.append(f'<tr><td class="label">{escape(run.name)}</td>{cells}<td>{counts}</td></tr>')
    return (
        f'<table id="{table_id}"><thead><tr><th class="label">run</th>{head}<th>questions</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def budget_table(runs: list[RunView]) -> str:
    rows = []
    for run in runs:
        for budget, sec in sorted((run.summary.get("by_budget") or {}).items(), key=lambda kv: int(kv[0])):
            overall = sec.get("overall", {})
            rows.append(
                f'<tr><td class="label">{escape(run.name)}</td><td>{escape(str(budget))}</td>'
                + _cell(
                    overall.get("accuracy"),
                    _ci(overall, "accuracy"),
                    run=run.name,
                    budget=budget,
                    metric="accuracy",
                )
                + _cell(
                    overall.get(PASS_AT_K, {}).get(_max_k(overall) or "1"),
                    _ci(overall, PASS_AT_K, _max_k(overall) or "1"),
                    run=run.name,
                    budget=budget,
                    metric="pass@k",
                )
                + "</tr>"
            )
    if not rows:
        return "<p class='note'>No budget-forced runs in this experiment.</p>"
    return (
        '<table id="budget-table"><thead><tr><th class="label">run</th><th>budget</th><th>accuracy</th>'
        f"<th>pass@k</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def trace_stats_table(data: ReportData) -> str:
    rows = []
    for run in data.runs:
        mine = [t for t in data.traces if t["run"] == run.name]
        think = [t["think_tokens"] for t in mine if t.get("think_tokens") is not None]
        waits = [t["waits"] for t in mine]
        no_answer = run.summary.get("overall", {}).get("no_answer_rate")
        rows.append(
            f'<tr><td class="label">{escape(run.name)}</td><td>{len(mine)}</td>'
            f"<td>{statistics.mean(think):.0f}</td><td>{statistics.median(think):.0f}</td>"
            if think
            else f'<tr><td class="label">{escape(run.name)}</td><td>{len(mine)}</td><td>–</td><td>–</td>'
        )
        rows[-1] += (
            f"<td>{(statistics.mean(waits) if waits else 0):.2f}</td>{_cell(no_answer, run=run.name)}</tr>"
        )
    return (
        '<table id="trace-stats"><thead><tr><th class="label">run</th><th>predictions</th><th>mean thinking tokens</th>'
        "<th>median</th><th>mean Waits</th><th>no answer (%)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def judge_table(runs: list[RunView]) -> str:
    """Rule scoring next to the LLM judge's verdicts, with what the judge cost."""
    rows = []
    for run in runs:
        if not run.judged:
            continue
        rule, judged = run.summary.get("overall", {}), run.judged.get("overall", {})
        kmax = _max_k(judged) or "1"
        rows.append(
            f'<tr><td class="label">{escape(run.name)}</td>'
            + _cell(rule.get("accuracy"), _ci(rule, "accuracy"), run=run.name, metric="rule-accuracy")
            + _cell(judged.get("accuracy"), _ci(judged, "accuracy"), run=run.name, metric="judge-accuracy")
            + _cell(
                rule.get("hallucination_rate"),
                _ci(rule, "hallucination_rate"),
                run=run.name,
                metric="rule-halluc",
            )
            + _cell(
                judged.get("hallucination_rate"),
                _ci(judged, "hallucination_rate"),
                run=run.name,
                metric="judge-halluc",
            )
            + _cell(judged.get(PASS_AT_K, {}).get(kmax), run=run.name, metric=f"judge-pass@{kmax}")
            + "".join(
                f"<td>{escape(str(run.judged.get(key, 0)))}</td>"
                for key in ("judge_calls", "decided_by_rule", "errors")
            )
            + "</tr>"
        )
    if not rows:
        return "<p class='note'>No LLM judge in this experiment (rule scoring only).</p>"
    return (
        '<table id="judge-table"><thead><tr><th class="label">run</th><th>rule accuracy</th><th>judge accuracy</th>'
        "<th>rule hallucinated</th><th>judge hallucinated</th><th>judge pass@k</th><th>judge calls</th><th>decided by rule</th><th>error verdicts</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _options(values: list[str]) -> str:
    return '<option value="">all</option>' + "".join(
        f'<option value="{escape(v)}">{escape(v)}</option>' for v in values
    )


def viewer(data: ReportData) -> str:
    # No "<" at all inside the script element: neither "</script" nor "<!--" can end or alter it.
    payload = json.dumps(data.traces, ensure_ascii=False).replace("<", "\\u003c")
    runs = [r.name for r in data.runs]
    return (
        '<div id="viewer-controls">'
        f'<label>run <select id="f-run">{_options(runs)}</select></label>'
        f'<label>dataset <select id="f-source">{_options(data.sources)}</select></label>'
        '<label>verdict <select id="f-verdict"><option value="">all</option><option value="correct">correct</option>'
        '<option value="wrong">wrong</option></select></label>'
        '<label>search <input id="f-text" type="search" placeholder="question, answer, id"></label>'
        '<span id="viewer-count"></span></div>'
        '<table id="viewer-table"><thead><tr><th>run</th><th>dataset</th><th>question / gold</th><th>answer</th>'
        "<th>verdict</th><th>trace</th></tr></thead><tbody></tbody></table>"
        f'<script id="trace-data" type="application/json">{payload}</script>'
    )


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested manifest entries as (dotted key, text) rows; lists of scalars joined on one line."""
    if isinstance(value, dict):
        rows = []
        for key, inner in value.items():
            rows += _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return [row for i, inner in enumerate(value) for row in _flatten(inner, f"{prefix}[{i}]")]
    if isinstance(value, list):
        return [(prefix, " ".join(str(v) for v in value))]
    return [(prefix, "–" if value is None else str(value))]


def manifest_section(manifest: dict[str, Any] | None) -> str:
    """The run manifest as a collapsed key/value table; every value inserted as escaped text."""
    if not manifest:
        return "<p class='note'>No manifest.json in this run directory.</p>"
    rows = "".join(
        f'<tr><td class="label">{escape(key)}</td><td class="label">{escape(text)}</td></tr>'
        for key, text in _flatten(manifest)
    )
    return (
        '<details id="manifest"><summary>Run manifest: fs1 version and commit, command, libraries, hardware, '
        f'seeds, start and end times</summary><table id="manifest-table"><tbody>{rows}</tbody></table></details>'
    )


def _asset(name: str) -> str:
    return resources.files("fs1.report").joinpath("assets", name).read_text(encoding="utf-8")


def _img(uri: str | None, alt: str) -> str:
    return (
        f'<img class="plot" alt="{escape(alt)}" src="{uri}">'
        if uri
        else f"<p class='note'>No data for: {escape(alt)}.</p>"
    )


def render(data: ReportData) -> str:
    """The whole HTML page as a string."""
    selection = selection_by_run(data)
    notes = (
        "pass@k is an upper bound (an oracle picks the right sample); maj@k and KG-verified selection are "
        "deployable selectors. Numbers are percentages; each cell's exact value is in its data-value attribute, "
        "and hovering a cell shows its 95% bootstrap interval over questions (data-lo, data-hi)."
    )
    sections = [
        f"<h1>{escape(data.title)}</h1>",
        f"<p class='note'>Run directory: {escape(str(data.rundir))}. {notes}</p>",
        "<h2>Main results</h2>",
        f'<div class="wide">{main_table(data)}</div>',
        "<h3>Questions scored, excluded and without predictions</h3>",
        f"<p class='note'>{escape(QUESTIONS_NOTE)}</p>",
        f'<div class="wide">{questions.accounting_table(data.runs)}</div>',
        "<h2>pass@k and selection</h2>",
        selection_table(data, selection),
        _img(plots.passk_curves(data.runs, selection), "pass@k curves"),
        "<h2>Factuality: correct, hallucinated, not attempted</h2>",
        f"<p class='note'>{escape(FACTUALITY_NOTE)}</p>",
        f'<div class="wide">{factuality.factuality_table(data.runs)}</div>',
        _img(plots.factuality_curves(data.runs), "factuality vs budget"),
        "<h2>Paired comparisons</h2>",
        f"<p class='note'>{escape(PAIRED_NOTE)}</p>",
        f'<div class="wide">{factuality.paired_table(data)}</div>',
        "<h2>Budget forcing</h2>",
        budget_table(data.runs),
        _img(plots.budget_curves(data.runs), "budget curves"),
        "<h2>Slices</h2><h3>By KG hops</h3>",
        slice_table(data, "by_hops", "hops-table"),
        "<h3>By answer type</h3>",
        slice_table(data, "by_answer_type", "answer-type-table"),
        "<h3>By topic</h3>",
        slice_table(data, "by_topic", "topic-table"),
        "<h2>LLM judge</h2>",
        judge_table(data.runs),
        "<h2>Trace statistics</h2>",
        trace_stats_table(data),
        _img(plots.thinking_lengths(data.traces), "thinking length histogram"),
        "<h2>Trace viewer</h2>",
        viewer(data),
        "<h2>Provenance</h2>",
        manifest_section(data.manifest),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(data.title)}</title><style>{_asset('report.css')}</style></head><body>"
        + "\n".join(sections)
        + f"<script>{_asset('viewer.js')}</script></body></html>"
    )


def write_report(rundir: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """Write ``rundir/report.html`` (or ``out``) atomically and return its path."""
    data = collect(rundir, title=title)
    path = Path(out) if out else Path(rundir) / "report.html"
    with atomic_open(path) as fh:
        fh.write(redact_text(render(data)))  # a report is for sharing: no password or key, whatever it quotes
    return path
