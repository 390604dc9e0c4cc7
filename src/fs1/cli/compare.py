"""`fs1 compare RUN_A RUN_B`: paired difference per dataset, its bootstrap interval, sign-test p, flipped questions."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import BENCHMARK_FORMAT_HELP, app, console, user_errors


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(
        ..., help="Run A: a score directory (scores.jsonl) or a scores/judged JSONL file."
    ),
    run_b: Path = typer.Argument(..., help="Run B, on the same benchmark."),
    benchmark: str | None = typer.Option(
        None,
        "--benchmark",
        "-b",
        help="Benchmark for the per-dataset split (default: the run directory's benchmark/questions.jsonl).",
    ),
    fmt: str = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP),
    budget_a: int | None = typer.Option(None, "--budget-a", help="Only this thinking budget of run A."),
    budget_b: int | None = typer.Option(None, "--budget-b", help="Only this thinking budget of run B."),
    seed: int = typer.Option(0, "--seed", help="Seed of the paired bootstrap."),
    flips: int = typer.Option(10, "--flips", min=0, help="Flipped questions listed per direction."),
    out: Path | None = typer.Option(
        None, "--json", help="Also write the full comparison (all flips) as JSON."
    ),
) -> None:
    """Compare two runs question by question: per dataset, accuracy A - B with its 95% paired-bootstrap interval
    and the exact sign-test p-value (McNemar with one sample per question), and the questions that flip."""
    from fs1.io import write_json_atomic
    from fs1.scoring.paired import compare as paired_compare
    from fs1.scoring.paired import load_verdicts, question_accuracy

    with user_errors():
        sources = _sources(benchmark, fmt, run_a)
        a = question_accuracy(load_verdicts(run_a), budget_a)
        b = question_accuracy(load_verdicts(run_b), budget_b)
        results = paired_compare(a, b, sources, seed)
    _print(results, str(run_a), str(run_b), flips)
    if out is not None:
        write_json_atomic(
            out, {"a": str(run_a), "b": str(run_b), "by_source": [r.to_dict() for r in results]}
        )
        console.print(f"wrote {out}")


def _sources(benchmark: str | None, fmt: str, run_a: Path) -> dict[str, str]:
    """Question ID -> dataset, from ``--benchmark`` or the run directory holding ``run_a`` (empty if neither)."""
    from fs1.scoring.score import load_questions

    if benchmark is None:
        start = run_a if run_a.is_dir() else run_a.parent
        candidates = [
            p / "benchmark" / "questions.jsonl" for p in [start.resolve(), *start.resolve().parents]
        ]
        local = next((c for c in candidates if c.is_file()), None)
        if local is None:
            return {}
        benchmark = str(local)
    return {qid: q.source_of_data for qid, q in load_questions(benchmark, fmt).items()}


def _print(results: list, name_a: str, name_b: str, shown: int) -> None:
    from rich import box
    from rich.table import Table

    console.print(f"A = {name_a}\nB = {name_b}")
    table = Table(
        box=box.SIMPLE, caption="A>B, B>A: questions where one run is more often right; p: sign test"
    )
    for column in ("dataset", "n", "acc A", "acc B", "A - B", "95% CI", "A>B", "B>A", "p"):
        table.add_column(column, justify="left" if column == "dataset" else "right", no_wrap=True)
    for r in results:
        table.add_row(
            r.source,
            str(r.n_questions),
            f"{r.accuracy_a:.3f}",
            f"{r.accuracy_b:.3f}",
            f"{r.difference:+.3f}",
            f"[{r.ci[0]:+.3f}, {r.ci[1]:+.3f}]",
            str(r.a_better),
            str(r.b_better),
            f"{r.p_value:.3g}",
        )
    console.print(table)
    overall = results[0]
    for label, flipped in (
        ("A better", [f for f in overall.flips if f["a"] > f["b"]]),
        ("B better", [f for f in reversed(overall.flips) if f["b"] > f["a"]]),
    ):
        if flipped and shown:
            listed = ", ".join(f"{f['id']} ({f['a']:.2f} vs {f['b']:.2f})" for f in flipped[:shown])
            more = f" and {len(flipped) - shown} more" if len(flipped) > shown else ""
            console.print(f"{label}: {listed}{more}")
