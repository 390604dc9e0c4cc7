"""`fs1 plan` (the grid as cluster jobs, packed onto nodes) and `fs1 status` (where a run stands)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors

_DRY_RUN = typer.Option(
    None,
    "--dry-run",
    help="Write every job (jobs.txt), sbatch scripts packed per wave and submit.sh into this folder, and prepare "
    "the run directory (--out) they write to.",
)


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
    shards: int | None = typer.Option(
        None, "--shards", min=1, help="Shards per paths, distill and generate stage."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="The run directory the jobs write to (default runs/NAME)."
    ),
    dry_run: Path | None = _DRY_RUN,
) -> None:
    """Print every heavy job of the run (paths, distill, train, generate, judge; each shard its own) with its GPUs
    and estimated GPU-hours, and the generation jobs packed onto nodes (several tensor-parallel-1 runs per node) next
    to one model per node; estimates use the rates in docs/cluster.md."""
    with user_errors():
        from fs1.run.cluster.plan import planned_jobs
        from fs1.run.config import load_experiment
        from fs1.run.runner import with_executor_overrides

        exp = with_executor_overrides(load_experiment(experiment), executor, shards)
        count, train = (questions, questions) if questions is not None else _question_counts(exp, experiment)
        jobs = planned_jobs(exp, count, train)
        console.print(_jobs_table(exp.name, jobs, count))
        _print_packing([j for j in jobs if j.kind == "generate" and j.gpus > 0], nodes, gpus_per_node)
        if dry_run is not None:
            _write_dry_run(experiment, exp, jobs, (out or Path("runs") / exp.name).resolve(), dry_run, nodes,
                           gpus_per_node)  # fmt: skip


def _question_counts(exp, experiment: Path) -> tuple[int, int]:  # noqa: ANN001
    """The evaluation and train question counts, loaded as `fs1 run` would."""
    from fs1.run.pipeline import Pipeline

    pipe = Pipeline(exp, Path("."), experiment)
    count = len(pipe.select_questions(exp.benchmark))
    return count, len(pipe.select_questions(exp.train_benchmark)) if exp.train_benchmark else count


def _jobs_table(name: str, jobs: list, count: int):  # noqa: ANN202
    from rich.table import Table

    generation = sum(j.kind == "generate" for j in jobs)
    table = Table(title=f"{name}: {len(jobs)} job(s), {generation} generation job(s) over {count} questions")
    for column in ("wave", "job", "model", "GPUs", "est. h", "GPU-h"):
        table.add_column(column, justify="left" if column in ("job", "model") else "right")
    for job in jobs:
        hours = (f"{job.hours:.2f}", f"{job.gpu_hours:.2f}") if job.gpus else ("–", "–")
        table.add_row(str(job.wave), job.label, job.model or "–", str(job.gpus), *hours)
    return table


def _print_packing(jobs: list, nodes: int, gpus_per_node: int) -> None:
    from fs1.run.cluster.plan import one_model_per_node, pack

    packed, naive = pack(jobs, nodes, gpus_per_node), one_model_per_node(jobs, nodes, gpus_per_node)
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


def _write_dry_run(
    experiment: Path, exp, jobs: list, rundir: Path, folder: Path, nodes: int, gpus: int
) -> None:  # noqa: ANN001
    """The run directory prepared for the jobs (experiment copy, fs1's manifest), and the jobs' files."""
    import os

    from fs1.run.cluster.scripts import plan_files
    from fs1.run.rundir import claim, recorded_origin
    from fs1.run.runner import prepare_rundir, refuse_secrets_for_jobs

    refuse_secrets_for_jobs(experiment, rundir)  # the scripts' jobs read the run's masked copy
    claim(rundir, experiment=experiment)
    prepare_rundir(experiment, rundir, recorded_origin(rundir) or experiment.resolve().parent, exp.seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in plan_files(exp, jobs, rundir, nodes, gpus).items():
        (folder / name).write_text(text, encoding="utf-8")
    os.chmod(folder / "submit.sh", 0o755)
    console.print(
        f"jobs and sbatch scripts for review: {folder} (jobs.txt, submit.sh); run directory: {rundir}"
    )


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

    from fs1.run.rundir import lock_holder
    from fs1.run.status import run_status

    rows = run_status(rundir)
    holder = lock_holder(rundir)
    driver = f" — fs1 run on {holder}" if holder else ""
    table = Table(
        title=f"{rundir}: "
        + ", ".join(f"{sum(r.state == s for r in rows)} {s}" for s in STATE_STYLE)
        + driver
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
