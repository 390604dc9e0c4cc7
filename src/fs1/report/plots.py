"""Matplotlib figures of the report (pass@k curves with bands, budget and factuality curves, thinking lengths), as
inline PNG data URIs. Legends sit outside the axes, right of the plot, so they never cover a curve."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from fs1.report.collect import RunView  # noqa: E402
from fs1.summary_types import MAJ_AT_K, PASS_AT_K  # noqa: E402


def _data_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _finish(
    fig: Any, ax: Any, drawn: bool, xlabel: str, title: str, ylabel: str = "accuracy (%)"
) -> str | None:
    """Shared look of the accuracy curves (log2 x axis, percent y axis); ``None`` when nothing was drawn."""
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # Outside the axes, on the right: a legend inside covered the curves (many runs x three selectors).
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    return _data_uri(fig)


def _curve(metrics: dict[str, float]) -> tuple[list[int], list[float]]:
    ks = sorted(int(k) for k in metrics)
    return ks, [100 * metrics[str(k)] for k in ks]


def _band(ax: Any, xs: list[int], intervals: dict[str, Any] | None, keys: list[str], colour: str) -> None:
    """Shade the 95 % interval of a curve where the summary has one for every point."""
    if not intervals or any(k not in intervals for k in keys):
        return
    lo = [100 * intervals[k][0] for k in keys]
    hi = [100 * intervals[k][1] for k in keys]
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.12, linewidth=0)


def passk_curves(runs: list[RunView], selection: dict[str, dict[str, float]]) -> str | None:
    """pass@k (solid), maj@k (dashed) and KG-verified selection (dotted) against k, one colour per run; pass@k and
    maj@k with their 95 % bootstrap bands."""
    fig, ax = plt.subplots(figsize=(8.5, 4))
    drawn = False
    for i, run in enumerate(runs):
        overall = run.summary.get("overall", {})
        ci = overall.get("ci") or {}
        colour = f"C{i % 10}"
        if overall.get(PASS_AT_K):
            ks, ys = _curve(overall[PASS_AT_K])
            ax.plot(ks, ys, "-o", color=colour, label=f"{run.name} pass@k")
            _band(ax, ks, ci.get("pass@k"), [str(k) for k in ks], colour)
            drawn = True
        if overall.get(MAJ_AT_K):
            ks, ys = _curve(overall[MAJ_AT_K])
            ax.plot(ks, ys, "--", color=colour, label=f"{run.name} maj@k")
            _band(ax, ks, ci.get("maj@k"), [str(k) for k in ks], colour)
        if selection.get(run.name):
            ks, ys = _curve(selection[run.name])
            ax.plot(ks, ys, ":", color=colour, label=f"{run.name} KG-select@k")
    return _finish(
        fig, ax, drawn, "k (samples)", "Parallel scaling: pass@k (upper bound) vs deployable selection"
    )


def factuality_curves(runs: list[RunView]) -> str | None:
    """Per-sample accuracy (solid) and hallucination rate (dashed) against the thinking budget, with 95 % bands:
    more thinking may raise accuracy, or lower hallucination only by abstaining more."""
    fig, ax = plt.subplots(figsize=(8.5, 4))
    drawn = False
    for i, run in enumerate(runs):
        by_budget = run.summary.get("by_budget") or {}
        budgets = sorted((b for b in by_budget if b.isdigit()), key=int)
        sections: list[Mapping[str, Any]] = [by_budget[b].get("overall") or {} for b in budgets]
        if not budgets or any("hallucination_rate" not in s for s in sections):
            continue
        colour, xs = f"C{i % 10}", [int(b) for b in budgets]
        for metric, style, label in (
            ("accuracy", "-o", "correct"),
            ("hallucination_rate", "--s", "hallucinated"),
        ):
            ax.plot(xs, [100 * s[metric] for s in sections], style, color=colour, label=f"{run.name} {label}")
            bounds = {b: (s.get("ci") or {}).get(metric) for b, s in zip(budgets, sections, strict=True)}
            _band(ax, xs, bounds if all(bounds.values()) else None, budgets, colour)
        drawn = True
    if drawn:
        ax.set_ylim(bottom=0)
    title = "Factuality vs thinking budget (one sample)"
    return _finish(fig, ax, drawn, "thinking budget (tokens)", title, "share of predictions (%)")


def budget_curves(runs: list[RunView]) -> str | None:
    """Accuracy against the thinking budget for runs with budget forcing."""
    fig, ax = plt.subplots(figsize=(8.5, 4))
    drawn = False
    for i, run in enumerate(runs):
        by_budget = run.summary.get("by_budget") or {}
        if not by_budget:
            continue
        budgets = sorted(by_budget, key=lambda b: int(b))
        ys = [100 * by_budget[b]["overall"]["accuracy"] for b in budgets]
        ax.plot([int(b) for b in budgets], ys, "-o", color=f"C{i % 10}", label=run.name)
        drawn = True
    return _finish(fig, ax, drawn, "thinking budget (tokens)", "Budget forcing: accuracy vs thinking budget")


def thinking_lengths(traces: list[dict[str, Any]]) -> str | None:
    """Histogram of thinking tokens per run (where the backend reported them)."""
    by_run: dict[str, list[int]] = {}
    for t in traces:
        if t.get("think_tokens"):
            by_run.setdefault(t["run"], []).append(int(t["think_tokens"]))
    if not by_run:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, (name, lengths) in enumerate(sorted(by_run.items())):
        ax.hist(lengths, bins=20, alpha=0.5, color=f"C{i % 10}", label=name)
    ax.set_xlabel("thinking tokens")
    ax.set_ylabel("predictions")
    ax.set_title("Thinking length")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _data_uri(fig)
