"""`fs1 report`: one self-contained HTML report from a run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors


@app.command("report")
def report_command(
    rundir: Path = typer.Argument(
        ..., help="Run directory written by `fs1 run` (holds score/, generate/, ...)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the HTML (default RUNDIR/report.html)."
    ),
    title: str | None = typer.Option(None, help="Page title."),
) -> None:
    """Write RUNDIR/report.html: main table, pass@k and budget curves, slices, trace statistics, trace viewer."""
    with user_errors():
        from fs1.report import write_report

        path = write_report(rundir, out=out, title=title)
    console.print(f"report: {path}")
