"""`fs1 run`: one experiment file → every stage (resumable) → results table and report."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors

_EXECUTOR = typer.Option(
    None, "--executor", help="local | slurm | ray (default: the file's `executor.kind`, else local)."
)
_SHARDS = typer.Option(
    None,
    "--shards",
    min=1,
    help="Shards per paths, distill and generation stage (default: the file's `executor.shards`).",
)
_VERBOSE = typer.Option(
    False, "--verbose", help="Show library output too (always kept in OUT/<stage>/log.txt)."
)
_ONLY = typer.Option(
    None,
    "--only",
    help="Run this one stage (e.g. generate/STUDENT__SETTING) as a job of the run; what it needs must be done. "
    "`fs1 plan --dry-run` writes these jobs.",
)
_SHARD = typer.Option(
    None, "--shard", help="With --only: shard I/N of the stage (0-based); its last shard merges."
)
_FORCE = typer.Option(
    False, "--force", help="Use an --out that holds other files and no fs1 run (fs1 deletes none of them)."
)
_PRUNE = typer.Option(
    False,
    "--prune",
    help="Delete outputs an edited experiment made stale, instead of moving them to OUT/.stale.",
)


@app.command("run")
def run_command(
    experiment: Path = typer.Argument(
        ..., help="Experiment YAML (see configs/demo.yaml, configs/paper.yaml)."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Run directory; a second run resumes and redoes only what changed."
    ),
    executor: str | None = _EXECUTOR,
    shards: int | None = _SHARDS,
    verbose: bool = _VERBOSE,
    only: str | None = _ONLY,
    shard: str | None = _SHARD,
    force: bool = _FORCE,
    prune: bool = _PRUNE,
) -> None:
    """Run an experiment: paths → distill → SFT sets → train → generate → score (→ judge) → report.

    Each stage's outputs live in OUT/<stage>/ with the config that made them; finished stages are skipped,
    interrupted ones resume, and a changed config re-runs exactly the stages it affects (their earlier outputs move
    to OUT/.stale). One `fs1 run` per OUT at a time. With --executor slurm or ray the heavy stages (paths, distill,
    train, generate, judge) run as cluster jobs (see docs/cluster.md).
    """
    with user_errors():
        from fs1.run.pipeline import StagesFailed
        from fs1.run.runner import quiet_library_logs, run_experiment

        part = _only_shard(only, shard)
        if not verbose:
            quiet_library_logs()
        options = {"verbose": verbose, "only": only, "shard": part, "force": force, "prune": prune}
        try:
            pipe = run_experiment(experiment, out, console.print, executor, shards, **options)
        except StagesFailed as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
    if only is None:
        _print_results(out, pipe)


def _only_shard(only: str | None, shard: str | None):  # noqa: ANN202
    from fs1.errors import ConfigError
    from fs1.run.driver import Shard
    from fs1.shards import parse_shard

    if shard is None:
        return None
    if only is None:
        raise ConfigError("--shard I/N needs --only STAGE (the stage whose shard to run)")
    return Shard(*parse_shard(shard))


def _print_results(out: Path, pipe) -> None:  # noqa: ANN001
    """The pass@k table of every run, and where the report and results table are."""
    import json

    from fs1.cli.tables import by_k_table
    from fs1.summary_types import PASS_AT_K, SUMMARY_FILE

    rows = []
    for run in pipe.runs:
        summary = json.loads((out / "score" / run / SUMMARY_FILE).read_text(encoding="utf-8"))
        rows.append((run.replace("__", " / "), summary.get("overall", {}).get(PASS_AT_K, {})))
    ks = [str(k) for k in pipe.exp.ks]
    console.print(by_k_table("pass@k overall (an oracle picks among k samples), by k", ks, rows))
    console.print(f"report: {out / 'report.html'}")
    console.print(f"results table: {out / 'results.parquet'} (query it with DuckDB)")
