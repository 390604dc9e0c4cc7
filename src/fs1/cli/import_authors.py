"""`fs1 import`: the authors' own files (predictions, judge prompts, judge verdicts) → an fs1 run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.authors.config import ImportConfig
from fs1.cli.app import BENCHMARK_FORMAT_HELP, app, console, user_errors
from fs1.cli.schema import schema_options


@app.command("import")
@schema_options(ImportConfig)
def import_command(
    config: ImportConfig,
    sources: list[Path] = typer.Argument(
        ..., help="The authors' files, or directories searched for *.jsonl (e.g. a folder of model folders)."
    ),
    benchmark: str = typer.Option(
        ...,
        "--benchmark",
        "-b",
        help="The benchmark the files answer (fs1 format, a dataset file or a hub id).",
    ),
    benchmark_format: str = typer.Option("auto", "--benchmark-format", help=BENCHMARK_FORMAT_HELP),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run directory to write (new, empty, or an earlier import)."
    ),
) -> None:
    """Import the authors' files (github.com/jjzha/fs1) into a run directory that fs1 score, judge, report and
    compare read: their <model_dir>/outputs.jsonl, budget_force_<model>_<budget>.jsonl and vLLM batch-runner output
    become OUT/generate/<run>/predictions.jsonl (each line keeps its source file:line) scored into OUT/score/<run>/;
    their judge prompts and verdicts become OUT/score/<run>/ and OUT/judge/<run>/ (judged.jsonl, judged_summary.json
    with pass@k). A run is a model folder. Question IDs the benchmark lacks are counted and listed in
    OUT/unknown_ids.txt (predictions of records the benchmark's loader skipped, having no gold answer, are imported
    and scored as excluded); duplicates and failed batch requests are counted; all of it is in OUT/import.json."""
    from fs1.authors.importer import import_files
    from fs1.authors.summaries import summarise_runs
    from fs1.data import load_for_scoring

    with user_errors():
        bench = load_for_scoring(benchmark, fmt=benchmark_format)

        def summaries(out_dir: Path, state):  # noqa: ANN001, ANN202
            return summarise_runs(
                out_dir, state, extract=config.extract, ks=config.k or None, seed=config.seed,
                workers=config.workers,
            )  # fmt: skip

        report = import_files(
            sources, bench.questions, out, fmt=config.format, strict=config.strict, summarise_runs=summaries,
            skipped=bench.skipped,
        )  # fmt: skip
    _print(report, out)


def _print(report: dict, out: Path) -> None:
    from rich.table import Table

    for entry in report["files"]:
        console.print(f"read {entry['path']}: {entry['format']}, {entry['lines']} lines")
    table = Table(title=f"imported into {out}", title_justify="left")
    for column in (
        "run",
        "predictions",
        "judge answers",
        "verdicts",
        "extraction",
        "pass@1",
        "judged pass@1",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, run in report["runs"].items():
        judged = run.get("judged_pass@k", {}).get("1")
        table.add_row(
            name, str(run["predictions"]), str(run["judge_answers"]), str(run["verdicts"]), run.get("extract", ""),
            _value(run.get("pass@k", {}).get("1")), _value(judged),
        )  # fmt: skip
    console.print(table)
    problems = {kind: count for kind, count in report["problems"].items() if kind != "unknown_id"}
    if problems:
        listed = ", ".join(f"{count} {PROBLEMS[kind]}" for kind, count in sorted(problems.items()))
        console.print(f"[yellow]note:[/] {listed} (places in {out / 'import.json'})")
    if report["unknown_ids"]:
        console.print(
            f"[yellow]warning:[/] {report['unknown_ids']} question ID(s) not in the benchmark "
            f"({report['unknown_id_lines']} lines), listed in {out / 'unknown_ids.txt'}; --strict makes this an error"
        )


PROBLEMS = {
    "failed_request": "failed request(s), left out",
    "duplicate": "duplicate sample(s), the first kept",
    "gold_differs": "judge prompt(s) whose gold list is not the benchmark's, imported",
    "skipped_record": "line(s) of records the benchmark's loader skipped (no gold): predictions scored as excluded,"
    " judge lines left out",
}


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
