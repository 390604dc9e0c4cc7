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
        None,
        "--shards",
        min=1,
        help="Shards per paths, distill and generation stage (default: the file's `executor.shards`).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Show library output too (always kept in OUT/<stage>/log.txt)."
    ),
) -> None:
    """Run an experiment: paths → distill → SFT sets → train → generate → score (→ judge) → report.

    Each stage's outputs live in OUT/<stage>/ with the config that made them; finished stages are skipped,
    interrupted ones resume, and a changed config re-runs exactly the stages it affects. With --executor slurm or
    ray the heavy stages (paths, distill, train, generate, judge) run as cluster jobs (see docs/cluster.md).
    """
    with user_errors():
        from fs1.cli.tables import by_k_table
        from fs1.run.pipeline import StagesFailed
        from fs1.run.runner import quiet_library_logs, run_experiment
        from fs1.summary_types import PASS_AT_K

        if not verbose:
            quiet_library_logs()
        try:
            pipe = run_experiment(
                experiment, out, log=console.print, executor=executor, shards=shards, verbose=verbose
            )
        except StagesFailed as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
        rows = [(run.replace("__", " / "), _overall(out, run, PASS_AT_K)) for run in pipe.runs]
        ks = [str(k) for k in pipe.exp.ks]
        console.print(by_k_table("pass@k overall (an oracle picks among k samples), by k", ks, rows))
        console.print(f"report: {out / 'report.html'}")
        console.print(f"results table: {out / 'results.parquet'} (query it with DuckDB)")


def _overall(rundir: Path, run: str, metric: str) -> dict[str, float]:
    """One metric by k over all questions of a run, from its score summary."""
    import json

    from fs1.summary_types import SUMMARY_FILE

    summary = json.loads((rundir / "score" / run / SUMMARY_FILE).read_text(encoding="utf-8"))
    return summary.get("overall", {}).get(metric, {})
