"""`fs1 score`: rule-based scoring of predictions against a benchmark (scores.jsonl + summary.json)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fs1.cli.app import BENCHMARK_FORMAT_HELP, app, console, user_errors
from fs1.cli.schema import schema_options
from fs1.cli.tables import accounting_line
from fs1.config import ScoreConfig
from fs1.summary_types import MAJ_AT_K, PASS_AT_K, Summary

if TYPE_CHECKING:
    from fs1.data import ScoringBenchmark


@app.command("score")
@schema_options(ScoreConfig)
def score(
    config: ScoreConfig,
    predictions: Path = typer.Argument(
        ..., help="Predictions JSONL (one Prediction per line, from `fs1 generate`)."
    ),
    benchmark: str = typer.Option(
        ...,
        "--benchmark",
        "-b",
        help="Benchmark: 'sample' (bundled), a fs1-format JSONL/JSON/Parquet file, a dataset file, or a hub id.",
    ),
    fmt: str = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory for scores.jsonl and summary.json."),
) -> None:
    """Score predictions by rule: extract each final answer (last \\boxed{}, else the answer marker; never the
    thinking; --extract authors: the paper's rule), normalise it, and count it correct when a gold answer or alias
    is contained in it on token boundaries. Writes OUT/scores.jsonl (one Score per prediction) and OUT/summary.json
    (accuracy, exact, F1, no-answer rate, attempted and hallucination rates, unbiased pass@k and maj@k (all
    k-subsets), 95% bootstrap intervals over questions; overall and by source, hops, answer type and budget).
    Every benchmark question is counted: scored, excluded (with why) or without predictions; a prediction of a record
    the benchmark's loader skipped (no gold answer) is excluded, and any other unknown question ID is an error."""
    from fs1.data import load_for_scoring
    from fs1.scoring.score import SCORES_FILE, SUMMARY_FILE
    from fs1.scoring.workers import capped_workers

    ks = config.k or None  # `--k ""`: every k up to the samples per question
    workers, note = capped_workers(config.workers)
    if note:
        console.print(f"[yellow]note:[/] {note}")
    with user_errors():
        summary = _score_with_progress(
            predictions, load_for_scoring(benchmark, fmt=fmt), out, ks, config, workers
        )
    dropped = sorted(set(ks or []) - set(summary["ks"]))
    if dropped:
        console.print(
            f"[yellow]note:[/] k = {dropped} left out: above the {summary['n']} samples per question"
        )
    for warning in summary.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    _print_summary(summary)
    console.print(accounting_line(summary), soft_wrap=True)
    console.print(f"wrote {out / SCORES_FILE} and {out / SUMMARY_FILE}")


def _score_with_progress(
    predictions: Path,
    benchmark: ScoringBenchmark,
    out: Path,
    ks: list[int] | None,
    config: ScoreConfig,
    workers: int,
) -> Summary:
    """``score_file`` under a progress line (predictions scored, time elapsed), with ``workers`` processes.

    The line is redrawn from the scoring loop itself, not by a refresh thread: with no other thread running, the
    scoring workers can be forked (``fs1.scoring.workers``).
    """
    from time import monotonic

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from fs1.scoring.score import score_file

    columns = (SpinnerColumn(), TextColumn("scoring {task.completed:,} predictions"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as bar:
        task = bar.add_task("score", total=None)
        shown = [0.0]

        def progress(n: int) -> None:
            bar.update(task, completed=n)
            if monotonic() - shown[0] >= 0.1:  # (as often as the default refresh thread would)
                shown[0] = monotonic()
                bar.refresh()

        return score_file(
            predictions,
            benchmark.questions,
            out,
            ks,
            progress=progress,
            workers=workers,
            seed=config.seed,
            extract=config.extract,
            require_complete=config.require_complete,
            skipped=benchmark.skipped,
        )


def _print_summary(summary: Summary) -> None:
    """Overall and per-source accuracy, then pass@k and maj@k at every k (everything else is in summary.json)."""
    from rich.table import Table

    from fs1.cli.tables import by_k_table

    ks = [str(k) for k in summary["ks"]]
    table = Table(
        title=f"fs1 score (n = {summary['n']} samples per question, {summary['extract']} extraction)",
        caption="accuracy and halluc.: value (95% interval over questions)",
        title_justify="left",
    )
    # Only the slice names never wrap: a value with its interval wraps onto two lines rather than being cut to "…".
    for column in ("slice", "questions", "accuracy", "attempted", "halluc.", "no answer"):
        table.add_column(column, justify="left" if column == "slice" else "right", no_wrap=column == "slice")
    rows = [("overall", summary["overall"])] + [(f"  {src}", s) for src, s in summary["by_source"].items()]
    for name, stats in rows:
        table.add_row(
            name,
            str(stats["n_questions"]),
            _with_interval(stats, "accuracy"),
            f"{stats['attempted']:.3f}",
            _with_interval(stats, "hallucination_rate"),
            f"{stats['no_answer_rate']:.3f}",
        )
    console.print(table)
    if ks:
        for metric, what in (
            (PASS_AT_K, "a correct answer among k samples"),
            (MAJ_AT_K, "majority vote of k"),
        ):
            by_k = [(name, _curve(stats, metric)) for name, stats in rows]
            console.print(by_k_table(f"{metric} ({what}), by k", ks, by_k))


def _curve(stats: Mapping[str, Any], metric: str) -> dict[str, float]:
    """A slice's curve (``pass@k``, ``maj@k``) by k."""
    return dict(stats[metric])


def _with_interval(stats: Mapping[str, Any], metric: str) -> str:
    """``0.375 (0.30-0.45)``: the value and its bootstrap interval, when the summary has one."""
    bounds = (stats.get("ci") or {}).get(metric)
    text = f"{stats[metric]:.3f}"
    return f"{text} ({bounds[0]:.2f}-{bounds[1]:.2f})" if bounds else text
