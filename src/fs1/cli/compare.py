"""`fs1 compare RUN_A RUN_B`: paired difference per dataset, its bootstrap interval, sign-test p, flipped questions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fs1.cli.app import BENCHMARK_FORMAT_HELP, app, console, user_errors

if TYPE_CHECKING:
    from fs1.records import Question


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
    k: str = typer.Option(
        "1,2,4,8,16", "--k", help="k of the side-by-side pass@k table (those above the samples are left out)."
    ),
    out: Path | None = typer.Option(
        None, "--json", help="Also write the full comparison (all flips) as JSON."
    ),
) -> None:
    """Compare two runs question by question: per dataset, accuracy A - B with its 95% paired-bootstrap interval
    and the exact sign-test p-value (McNemar with one sample per question), and the questions that flip; then
    pass@k per dataset side by side and the sample verdicts that flip (e.g. one set of predictions scored with
    --extract fs1 and with --extract authors)."""
    from fs1.scoring.paired import compare as paired_compare
    from fs1.scoring.paired import load_verdicts, question_accuracy, under_own_ids
    from fs1.scoring.side_by_side import pass_at_k_by_source, shared_ks, unit_counts, verdict_flips

    with user_errors():
        questions = _questions(benchmark, fmt, run_a)
        sources = {qid: q.source_of_data for qid, q in questions.items()}
        rows_a = under_own_ids(load_verdicts(run_a), questions)
        rows_b = under_own_ids(load_verdicts(run_b), questions)
        a, b = question_accuracy(rows_a, budget_a), question_accuracy(rows_b, budget_b)
        results = paired_compare(a, b, sources, seed)
        counts_a, counts_b = unit_counts(rows_a, budget_a), unit_counts(rows_b, budget_b)
        ks = shared_ks(_ks(k), counts_a, counts_b)
        side = {
            "a": pass_at_k_by_source(counts_a, sources, ks),
            "b": pass_at_k_by_source(counts_b, sources, ks),
        }
        flipped = verdict_flips(rows_a, rows_b, budget_a, budget_b)
        extraction = {"a": _extraction(run_a), "b": _extraction(run_b)}
    _print(results, f"{run_a}{_rule(extraction['a'])}", f"{run_b}{_rule(extraction['b'])}", flips)
    _print_side_by_side(side, ks, flipped)
    if out is not None:
        _write_json(out, run_a, run_b, extraction, results, side, flipped)


def _write_json(out: Path, run_a: Path, run_b: Path, extraction, results, side, flipped) -> None:  # noqa: ANN001
    """The full comparison (all flips) as JSON."""
    from fs1.io import write_json_atomic

    write_json_atomic(
        out,
        {
            "a": str(run_a),
            "b": str(run_b),
            "extract": extraction,
            "by_source": [r.to_dict() for r in results],
            "pass@k": {run: {name: {str(k): v for k, v in by_k.items()} for name, by_k in table.items()}
                       for run, table in side.items()},
            "verdict_flips": flipped.to_dict(),
        },
    )  # fmt: skip
    console.print(f"wrote {out}")


def _ks(text: str) -> list[int]:
    from fs1.errors import ConfigError

    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"--k: expected comma-separated integers, got {text!r}") from None
    if any(k < 1 for k in ks):
        raise ConfigError(f"--k: every k must be at least 1, got {text!r}")
    return ks


def _extraction(run: Path) -> str | None:
    """The extraction rule a run's summary records (beside its verdict file), if it records one."""
    import json

    folder = run if run.is_dir() else run.parent
    for name in ("summary.json", "judged_summary.json"):
        path = folder / name
        if path.is_file():
            try:
                extract = json.loads(path.read_text(encoding="utf-8")).get("extract")
            except (ValueError, AttributeError):
                return None
            return str(extract) if extract else None
    return None


def _rule(extract: str | None) -> str:
    return f" ({extract} extraction)" if extract else ""


def _questions(benchmark: str | None, fmt: str, run_a: Path) -> dict[str, Question]:
    """The benchmark's questions by ID and older ID (``fs1.data.question_index``), from ``--benchmark`` or the run
    directory holding ``run_a`` (empty if neither): the per-dataset split, and the IDs rows are paired by."""
    from fs1.data import load_questions, question_index

    if benchmark is None:
        start = run_a if run_a.is_dir() else run_a.parent
        candidates = [
            p / "benchmark" / "questions.jsonl" for p in [start.resolve(), *start.resolve().parents]
        ]
        local = next((c for c in candidates if c.is_file()), None)
        if local is None:
            return {}
        benchmark = str(local)
    return question_index(load_questions(benchmark, fmt=fmt))


def _print_side_by_side(side: dict, ks: list[int], flipped) -> None:  # noqa: ANN001
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE, title="pass@k, A | B", title_justify="left")
    table.add_column("dataset", no_wrap=True)
    for k in ks:
        table.add_column(f"pass@{k}", justify="right", no_wrap=True)
    for name, by_k in side["a"].items():
        other = side["b"].get(name, {})
        table.add_row(
            name, *(f"{by_k[k]:.3f} | {other[k]:.3f}" if k in other else f"{by_k[k]:.3f} | -" for k in ks)
        )
    console.print(table)
    console.print(
        f"sample verdicts: {flipped.shared} in both runs, {flipped.a_only + flipped.b_only} flip "
        f"({flipped.a_only} correct only in A, {flipped.b_only} only in B); "
        f"{flipped.only_in_a} only in A, {flipped.only_in_b} only in B"
    )


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
