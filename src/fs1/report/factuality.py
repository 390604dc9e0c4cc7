"""The report's factuality section and paired-comparison table (HTML fragments; every value escaped).

Factuality: per run, budget and k, the answer majority vote selects from k samples is correct, incorrect (a
hallucination) or not attempted (no answer, or a refusal); the table shows the three rates with their 95 %
bootstrap intervals and a stacked bar (green right, red hallucinated, grey not attempted), so a rise in accuracy
can be told apart from a fall in hallucination bought by abstaining more.

Paired comparisons: the experiment's contrasts (fs1 vs rt and rt vs instruct per model, each budget vs the
smallest within a run), per dataset, from the per-question accuracies of the trace data
(``fs1.scoring.paired``); the questions that flip link to the trace viewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlencode

from fs1.report.collect import ReportData, RunView
from fs1.scoring.paired import PairedResult, compare

REPORT_SEED = 0
FLIPS_SHOWN = 8
# (setting A, setting B) contrasts between runs of one model, in the order the table lists them.
SETTING_CONTRASTS = (("fs1", "rt"), ("rt", "instruct"), ("abstain", "instruct"))
# (metric key in factuality@k, column title)
COLUMNS = (
    ("accuracy", "correct"),
    ("hallucination_rate", "hallucinated"),
    ("attempted", "attempted"),
    ("hallucination_given_attempted", "halluc. / attempted"),
    ("simpleqa_f1", "SimpleQA F1"),
)


def _attrs(**attrs: Any) -> str:
    return "".join(f' data-{escape(k)}="{escape(str(v))}"' for k, v in attrs.items() if v is not None)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def interval_cell(value: float | None, interval: Any, **attrs: Any) -> str:
    """A cell showing a percentage and its interval; exact values in data-value / data-lo / data-hi."""
    if value is None:
        return f"<td{_attrs(**attrs)}>–</td>"
    lo, hi = interval if isinstance(interval, list | tuple) and len(interval) == 2 else (None, None)
    bounds = (
        ""
        if lo is None or hi is None
        else f' <small class="ci">[{escape(_pct(lo))}, {escape(_pct(hi))}]</small>'
    )
    data = _attrs(**attrs, value=repr(float(value)), lo=lo, hi=hi)
    return f'<td class="iv"{data}><span class="v">{escape(_pct(value))}</span>{bounds}</td>'


def stacked_bar(correct: float, hallucinated: float) -> str:
    """Right / hallucinated / not attempted as one bar of three segments (widths in percent)."""
    abstained = max(0.0, 1.0 - correct - hallucinated)
    parts = (
        ("ok", correct, "correct"),
        ("bad", hallucinated, "hallucinated"),
        ("na", abstained, "not attempted"),
    )
    segments = "".join(
        f'<span class="seg {cls}" style="width:{escape(f"{100 * share:.2f}")}%" '
        f'title="{escape(f"{label} {100 * share:.1f}%")}"></span>'
        for cls, share, label in parts
    )
    return f'<td class="bar"><div class="stack">{segments}</div></td>'


def _budget_sections(run: RunView) -> list[tuple[str | None, Mapping[str, Any]]]:
    by_budget = run.summary.get("by_budget") or {}
    if not by_budget:
        return [(None, run.summary.get("overall") or {})]
    ordered = sorted(
        by_budget.items(), key=lambda kv: (not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0)
    )
    return [(budget, sections.get("overall") or {}) for budget, sections in ordered]


def factuality_table(runs: list[RunView]) -> str:
    """Per run, budget and k: correct / hallucinated / attempted with intervals, and the stacked bar."""
    rows = []
    for run in runs:
        for budget, section in _budget_sections(run):
            outcomes = section.get("factuality@k") or {}
            bounds = (section.get("ci") or {}).get("factuality@k") or {}
            for k in sorted(outcomes, key=int):
                outcome, ci = outcomes[k], bounds.get(k) or {}
                where = {"run": run.name, "budget": budget, "k": k}
                cells = "".join(
                    interval_cell(outcome.get(key), ci.get(key), **where, metric=key) for key, _ in COLUMNS
                )
                rows.append(
                    f'<tr><td class="label">{escape(run.name)}</td><td>{escape(budget or "–")}</td>'
                    f"<td>{escape(str(k))}</td>{cells}"
                    + stacked_bar(outcome.get("accuracy", 0.0), outcome.get("hallucination_rate", 0.0))
                    + "</tr>"
                )
    if not rows:
        return (
            "<p class='note'>No factuality numbers in these summaries (score them again with this fs1).</p>"
        )
    head = "".join(f"<th>{escape(title)} (%)</th>" for _, title in COLUMNS)
    return (
        '<table id="factuality-table"><thead><tr><th class="label">run</th><th>budget</th><th>k</th>'
        f"{head}<th>correct / hallucinated / not attempted</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _question_accuracy(traces: Iterable[Mapping[str, Any]], run: str, budget: int | None) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for t in traces:
        if t["run"] == run and (budget is None or t.get("budget") == budget) and not t.get("excluded"):
            total = totals.setdefault(str(t["id"]), [0, 0])
            total[0] += bool(t.get("correct"))
            total[1] += 1
    return {qid: right / count for qid, (right, count) in totals.items()}


Contrast = tuple[str, tuple[str, int | None], tuple[str, int | None]]


def contrasts(data: ReportData) -> list[Contrast]:
    """The experiment's comparisons: (label, (run A, budget A), (run B, budget B))."""
    by_setting = {(r.model, r.setting): r for r in data.runs}
    out: list[Contrast] = []
    for model in dict.fromkeys(r.model for r in data.runs):
        for a, b in SETTING_CONTRASTS:
            if (model, a) in by_setting and (model, b) in by_setting:
                run_a, run_b = by_setting[(model, a)], by_setting[(model, b)]
                shared = sorted(set(run_a.budgets) & set(run_b.budgets))
                if shared:  # both budget-forced: compare budget by budget
                    out += [
                        (f"{a} vs {b} ({model}), budget {x}", (run_a.name, x), (run_b.name, x))
                        for x in shared
                    ]
                else:  # a run without budgets is compared with all samples of the other pooled
                    out.append((f"{a} vs {b} ({model})", (run_a.name, None), (run_b.name, None)))
    for run in data.runs:
        budgets = sorted(run.budgets)
        for budget in budgets[1:]:
            out.append(
                (f"{run.name}: budget {budget} vs {budgets[0]}", (run.name, budget), (run.name, budgets[0]))
            )
    return out


def paired_results(data: ReportData) -> list[tuple[str, tuple, tuple, list[PairedResult]]]:
    """Each contrast with its per-dataset paired results (contrasts sharing no question are left out)."""
    sources = {str(t["id"]): t.get("source") or "" for t in data.traces}
    out = []
    for label, a, b in contrasts(data):
        values_a = _question_accuracy(data.traces, *a)
        values_b = _question_accuracy(data.traces, *b)
        if set(values_a) & set(values_b):
            out.append((label, a, b, compare(values_a, values_b, sources, REPORT_SEED)))
    return out


def _flip_links(result: PairedResult, run: str) -> str:
    """Links that open the trace viewer on a flipped question (A-better first, then B-better)."""
    better_a = [f for f in result.flips if f["a"] > f["b"]]
    better_b = [f for f in reversed(result.flips) if f["b"] > f["a"]]

    def links(flips: list[dict[str, Any]]) -> str:
        shown = " ".join(
            f'<a class="flip" href="#{escape(urlencode({"run": run, "q": flip["id"]}))}">{escape(flip["id"])}</a>'
            for flip in flips[:FLIPS_SHOWN]
        )
        more = f" +{len(flips) - FLIPS_SHOWN}" if len(flips) > FLIPS_SHOWN else ""
        return shown + escape(more)

    return f"<td class='label flips'>A: {links(better_a)}<br>B: {links(better_b)}</td>"


def paired_table(data: ReportData) -> str:
    """Paired differences per contrast and dataset: A - B, its interval, questions either way, p, flips."""
    rows = []
    for label, a, _, results in paired_results(data):
        for r in results:
            where = {"contrast": label, "source": r.source}
            p_cell = (
                f"<td{_attrs(**where, metric='p', value=repr(r.p_value))}>{escape(f'{r.p_value:.3g}')}</td>"
            )
            rows.append(
                f'<tr><td class="label">{escape(label)}</td><td class="label">{escape(r.source)}</td>'
                f"<td>{r.n_questions}</td>"
                + interval_cell(r.accuracy_a, None, **where, metric="accuracy_a")
                + interval_cell(r.accuracy_b, None, **where, metric="accuracy_b")
                + interval_cell(r.difference, r.ci, **where, metric="difference")
                + f"<td>{r.a_better}</td><td>{r.b_better}</td>{p_cell}"
                + _flip_links(r, a[0])
                + "</tr>"
            )
    if not rows:
        return "<p class='note'>No pair of runs to compare in this experiment.</p>"
    return (
        '<table id="paired-table"><thead><tr><th class="label">A vs B</th><th class="label">dataset</th>'
        "<th>questions</th><th>A (%)</th><th>B (%)</th><th>A − B (points)</th><th>A better</th><th>B better</th>"
        "<th>p (sign test)</th><th class='label'>flipped questions (open in viewer)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
