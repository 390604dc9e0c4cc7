"""`fs1 plan` (the grid as cluster jobs, packed onto nodes) and `fs1 status` (where a run stands)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors


@app.command("plan")
def plan_command(
    experiment: Path = typer.Argument(..., help="Experiment YAML."),
    executor: str = typer.Option(
        "slurm", "--executor", help="slurm | ray | local (resources shown as given)."
    ),
    gpus_per_node: int = typer.Option(8, "--gpus-per-node", min=1, help="GPUs of one node."),
    nodes: int = typer.Option(4, "--nodes", min=1, help="Nodes to pack onto (for the makespan estimate)."),
    questions: int | None = typer.Option(
        None, "--questions", min=1, help="Question count (default: load the benchmark as `fs1 run` would)."
    ),
    shards: int | None = typer.Option(None, "--shards", min=1, help="Shards per generation run."),
    out: Path | None = typer.Option(None, "--out", help="The run directory the jobs would write to."),
    dry_run: Path | None = typer.Option(
        None, "--dry-run", help="Write the sbatch scripts of the packed plan into this folder, for review."
    ),
) -> None:
    """Print the generation jobs with GPUs and estimated GPU-hours, packed onto nodes (several tensor-parallel-1
    runs per node) next to one model per node; estimates use the decode rates in docs/cluster.md."""
    with user_errors():
        from rich.table import Table

        from fs1.run.config import load_experiment
        from fs1.run.plan import generation_jobs, one_model_per_node, pack, sbatch_scripts
        from fs1.run.runner import with_executor_overrides

        exp = with_executor_overrides(load_experiment(experiment), executor, shards)
        count = questions if questions is not None else _question_count(exp, experiment)
        jobs = generation_jobs(exp, count)
        table = Table(title=f"{exp.name}: {len(jobs)} generation job(s) over {count} questions")
        for column in ("job", "model", "GPUs", "est. h", "GPU-h"):
            table.add_column(column, justify="left" if column in ("job", "model") else "right")
        for job in jobs:
            table.add_row(job.label, job.model, str(job.gpus), f"{job.hours:.2f}", f"{job.gpu_hours:.2f}")
        console.print(table)
        packed = pack(jobs, nodes, gpus_per_node)
        naive = one_model_per_node(jobs, nodes, gpus_per_node)
        for name, placement in (("packed (fs1 plan)", packed), ("one model per node", naive)):
            console.print(
                f"{name}: makespan {placement.makespan:.2f} h on {nodes} × {gpus_per_node} GPUs, "
                f"{placement.busy_gpu_hours:.1f} GPU-h busy, {placement.idle_gpu_hours:.1f} GPU-h idle "
                f"({100 * placement.idle_fraction:.0f} %)"
            )
        for number, node in enumerate(packed.nodes):
            placed = ", ".join(
                f"{p.job.label} (GPU {','.join(map(str, p.gpus))} from {p.start:.1f} h)"
                for p in sorted(node.placed, key=lambda p: (p.start, p.gpus))
            )
            console.print(f"  node {number} ({node.end:.2f} h): {placed}")
        if dry_run is not None:
            rundir = (out or Path("runs") / exp.name).resolve()
            dry_run.mkdir(parents=True, exist_ok=True)
            for name, text in sbatch_scripts(exp, packed, rundir).items():
                (dry_run / name).write_text(text)
            console.print(f"sbatch scripts for review: {dry_run}")


def _question_count(exp, experiment: Path) -> int:  # noqa: ANN001
    from fs1.run.pipeline import Pipeline

    return len(Pipeline(exp, Path("."), experiment).select_questions(exp.benchmark))


@app.command("status")
def status_command(
    rundir: Path = typer.Argument(..., help="Run directory of `fs1 run`."),
    watch: bool = typer.Option(False, "--watch", help="Refresh until interrupted (Ctrl-C)."),
    every: float = typer.Option(5.0, "--every", min=0.5, help="Seconds between refreshes with --watch."),
) -> None:
    """Every stage and shard of a run: done / running / pending (with the reason Slurm gives) / failed, records
    written, job id, last error."""
    with user_errors():
        from rich.live import Live

        if not watch:
            console.print(_status_table(rundir))
            return
        with Live(_status_table(rundir), console=console, auto_refresh=False) as live:
            try:
                while True:
                    time.sleep(every)
                    live.update(_status_table(rundir), refresh=True)
            except KeyboardInterrupt:
                pass


STATE_STYLE = {"done": "green", "running": "cyan", "pending": "yellow", "failed": "bold red"}


def _status_table(rundir: Path):  # noqa: ANN202
    from rich.table import Table

    from fs1.run.status import run_status

    rows = run_status(rundir)
    table = Table(
        title=f"{rundir}: " + ", ".join(f"{sum(r.state == s for r in rows)} {s}" for s in STATE_STYLE)
    )
    for column in ("stage", "shard", "state", "records", "tries", "job", "last error"):
        table.add_column(column, justify="right" if column in ("records", "tries") else "left")
    for row in rows:
        style = STATE_STYLE[row.state]
        table.add_row(
            row.stage,
            row.shard,
            f"[{style}]{row.state}[/]" + (f" ({row.reason})" if row.reason else ""),
            "–" if row.records is None else str(row.records),
            str(row.attempts) if row.attempts else "–",
            row.job_id or "–",
            (row.error or "")[:120],
        )
    return table
