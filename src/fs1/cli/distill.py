"""`fs1 distill`: ask a teacher for rt or fs1 reasoning traces of benchmark questions, labelled, resumable."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import (
    BENCHMARK_OPTION,
    FORMAT_OPTION,
    app,
    chosen_shard,
    console,
    merge_shards_option,
    shard_option,
    user_errors,
)
from fs1.cli.schema import schema_options
from fs1.distill.config import DistillConfig, DistillSummary

_HELP = """Distil teacher reasoning traces (rt: plain question; fs1: question + KG paths) into TRACES.jsonl.

Teachers: any OpenAI-compatible server (--base-url; DeepSeek-R1/QwQ on hosted APIs, vLLM, SGLang, llama.cpp,
Ollama; the key comes from the environment), or a local model (--backend transformers|llamacpp|vllm). Reasoning is
read from the API's reasoning field, else from <think>…</think>; a model with neither (the offline default
smollm2-135m) gives its whole reply as the reasoning and its \\boxed{} answer as the attempt — such traces are weak.

Each trace is labelled against the gold answers (label, valid). The output is appended trace by trace; --resume
asks only for the (question, sample) pairs still missing, also after kill -9. A question that still fails after the
backend's retries goes to TRACES.errors.jsonl and the run goes on (--on-error abort stops instead); the exit code
is then 1, and --resume retries it. Totals go to TRACES.summary.json.

For array jobs: run `--shard I/N --resume` once per I (e.g. I = $SLURM_ARRAY_TASK_ID), then the same command with
`--merge-shards N` instead of `--shard`: it checks that every (question, sample) is in exactly one shard (a unit
listed in a shard's errors file may be missing), joins the errors files and writes the merged summary."""


_PATHS = typer.Option(None, "--paths", help="KG paths (JSONL of `fs1 paths`); needed for fs1.")
_VERBOSE = typer.Option(False, "--verbose", help="Show library output too (always kept in TRACES.log.txt).")


@app.command("distill", help=_HELP)
@schema_options(DistillConfig, aliases={"samples": ("-k",)})
def distill(
    config: DistillConfig,
    benchmark: str = BENCHMARK_OPTION,
    fmt: str = FORMAT_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Output TRACES.jsonl (append-only)."),
    paths: Path | None = _PATHS,
    limit: int | None = typer.Option(None, "--limit", help="Only the first N questions."),
    resume: bool = typer.Option(False, "--resume", help="Continue an existing TRACES.jsonl."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start TRACES.jsonl again from empty."),
    shard: str | None = shard_option("distil"),
    merge_shards: int | None = merge_shards_option("Distil", "(id, sample)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = _VERBOSE,
) -> None:
    from fs1.backends import BackendError
    from fs1.data import load_questions
    from fs1.distill.inputs import load_paths
    from fs1.distill.stage import DISTILL, DistillSpec
    from fs1.run.driver import merge, part_file, run_part, side_recording

    with user_errors():
        part = chosen_shard(shard, merge_shards)
        questions = load_questions(benchmark, fmt=fmt, limit=limit)
        spec = DistillSpec(config, load_paths(paths) if paths is not None else None, overwrite, not quiet)
        if merge_shards is not None:
            _, merged = merge(DISTILL, spec, questions, out, merge_shards)
            console.print(f"merged {merge_shards} shards into {out}: every (id, sample) once")
            _print_summary(merged, out)
            return
        written = part_file(out, part)
        inputs = {"benchmark": benchmark, "paths": paths}
        record = side_recording(written, seed=config.seed, inputs=inputs, verbose=verbose)
        try:
            summary = run_part(DISTILL, spec, questions, out, part, resume=resume, recording=record)
        except BackendError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            console.print(f"Completed traces are kept in {written}; rerun with --resume to continue.")
            raise typer.Exit(1) from None
    _print_summary(summary, written)
    if summary.failed:
        raise typer.Exit(1)


def _print_summary(s: DistillSummary, out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"fs1 distill — {s.mode} traces from {s.teacher} ({s.backend})", show_header=False)
    table.add_row("traces written now", str(s.written))
    table.add_row("already there (resume)", str(s.already_done))
    table.add_row("failed (see errors file)", str(s.failed))
    if s.mode == "fs1":
        table.add_row("no KG path: rt prompt / skipped", f"{s.flagged_no_path} / {s.skipped_no_path}")
    table.add_row(
        "tokens in / out", f"{s.usage.tokens_in:,} / {s.usage.tokens_out:,} ({s.usage.requests} requests)"
    )
    if s.usage.missing_in:
        table.add_row("requests without usage", str(s.usage.missing_in))
    if s.cost is not None:
        table.add_row("cost", f"{s.cost:.4f}")
    table.add_row("file: traces / valid / correct", f"{s.file_traces} / {s.file_valid} / {s.file_correct}")
    table.add_row("wall time", f"{s.wall_s:.1f} s")
    console.print(table)
    if s.failed:
        console.print(
            f"[yellow]{s.failed} unit(s) failed[/] (listed in {s.errors_path}); rerun with --resume."
        )
    if s.note:
        console.print(f"[yellow]note:[/] {s.note}")
    console.print(f"traces: {out}")
