"""Matplotlib figures of the report (pass@k curves, budget curves, thinking lengths), as inline PNG data URIs."""

from __future__ import annotations

import base64
import io
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


def _finish(fig: Any, ax: Any, drawn: bool, xlabel: str, title: str) -> str | None:
    """Shared look of the accuracy curves (log2 x axis, percent y axis); ``None`` when nothing was drawn."""
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _data_uri(fig)


def _curve(metrics: dict[str, float]) -> tuple[list[int], list[float]]:
    ks = sorted(int(k) for k in metrics)
    return ks, [100 * metrics[str(k)] for k in ks]


def passk_curves(runs: list[RunView], selection: dict[str, dict[str, float]]) -> str | None:
    """pass@k (solid), maj@k (dashed) and KG-verified selection (dotted) against k, one colour per run."""
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for i, run in enumerate(runs):
        overall = run.summary.get("overall", {})
        colour = f"C{i % 10}"
        if overall.get(PASS_AT_K):
            ks, ys = _curve(overall[PASS_AT_K])
            ax.plot(ks, ys, "-o", color=colour, label=f"{run.name} pass@k")
            drawn = True
        if overall.get(MAJ_AT_K):
            ks, ys = _curve(overall[MAJ_AT_K])
            ax.plot(ks, ys, "--", color=colour, label=f"{run.name} maj@k")
        if selection.get(run.name):
            ks, ys = _curve(selection[run.name])
            ax.plot(ks, ys, ":", color=colour, label=f"{run.name} KG-select@k")
    return _finish(
        fig, ax, drawn, "k (samples)", "Parallel scaling: pass@k (upper bound) vs deployable selection"
    )


def budget_curves(runs: list[RunView]) -> str | None:
    """Accuracy against the thinking budget for runs with budget forcing."""
    fig, ax = plt.subplots(figsize=(7, 4))
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
    ax.legend(fontsize=7)
    return _data_uri(fig)
