"""`fs1 run`: one experiment file → every stage (resumable) → results table and report."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors


@app.command("run")
def run_command(
    experiment: Path = typer.Argument(
        ..., help="Experiment YAML (see configs/demo.yaml, configs/paper.yaml)."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Run directory; a second run resumes and redoes only what changed."
    ),
    executor: str | None = typer.Option(
        None, "--executor", help="local | slurm | ray (default: the file's `executor.kind`, else local)."
    ),
    shards: int | None = typer.Option(
        None, "--shards", min=1, help="Shards per generation run (default: the file's `executor.shards`)."
    ),
) -> None:
    """Run an experiment: paths → distill → SFT sets → train → generate → score (→ judge) → report.

    Each stage's outputs live in OUT/<stage>/ with the config that made them; finished stages are skipped,
    interrupted ones resume, and a changed config re-runs exactly the stages it affects. With --executor slurm or
    ray the heavy stages (paths, distill, train, generate, judge) run as cluster jobs (see docs/cluster.md).
    """
    with user_errors():
        from rich.table import Table

        from fs1.run.pipeline import StagesFailed
        from fs1.run.runner import headline, quiet_library_logs, run_experiment

        quiet_library_logs()
        try:
            pipe = run_experiment(experiment, out, log=console.print, executor=executor, shards=shards)
        except StagesFailed as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
        table = Table(title="Headline (overall)")
        for column in ("model", "setting", "pass@1", "pass@k", "k"):
            table.add_column(column, justify="left" if column in ("model", "setting") else "right")
        for model, setting, p1, pk, k in headline(out, pipe.runs):
            table.add_row(model, setting, _pct(p1), _pct(pk), str(k or "–"))
        console.print(table)
        console.print(f"report: {out / 'report.html'}")
        console.print(f"results table: {out / 'results.parquet'} (query it with DuckDB)")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
