"""`fs1 distill`: ask a teacher for rt or fs1 reasoning traces of benchmark questions, labelled, resumable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from fs1.cli.app import (
    BACKEND_OPTION,
    BENCHMARK_FORMAT_HELP,
    app,
    console,
    parse_backend_options,
    recorded,
    user_errors,
)

_HELP = """Distil teacher reasoning traces (rt: plain question; fs1: question + KG paths) into TRACES.jsonl.

Teachers: any OpenAI-compatible server (--base-url; DeepSeek-R1/QwQ on hosted APIs, vLLM, SGLang, llama.cpp,
Ollama; the key comes from the environment), or a local model (--backend transformers|llamacpp|vllm). Reasoning is
read from the API's reasoning field, else from <think>…</think>; a model with neither (the offline default
smollm2-135m) gives its whole reply as the reasoning and its \\boxed{} answer as the attempt — such traces are weak.

Each trace is labelled against the gold answers (label, valid). The output is appended trace by trace; --resume
asks only for the (question, sample) pairs still missing, also after kill -9. A question that still fails after the
backend's retries goes to TRACES.errors.jsonl and the run goes on (--on-error abort stops instead); the exit code
is then 1, and --resume retries it. Totals go to TRACES.summary.json."""


@app.command("distill", help=_HELP)
def distill(
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="Questions: 'sample' or a dataset file."),
    fmt: str = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output TRACES.jsonl (append-only)."),
    mode: str = typer.Option("rt", "--mode", help="rt | fs1."),
    paths: Path | None = typer.Option(
        None, "--paths", help="KG paths (JSONL of `fs1 paths`); needed for fs1."
    ),
    teacher: str = typer.Option("smollm2-135m", "--teacher", help="Teacher model (server id, hub id, path)."),
    backend: str = typer.Option("auto", "--backend", help="openai | transformers | llamacpp | vllm | auto."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL, e.g. …/v1."),
    samples: int = typer.Option(1, "--samples", "-k", help="Traces per question."),
    no_path: str = typer.Option(
        "rt",
        "--no-path",
        help="fs1 mode, question without a path: 'rt' = rt prompt, flagged no_kg_path; 'skip'.",
    ),
    concurrency: int = typer.Option(
        4, "--concurrency", help="Requests in flight (remote teachers; local: 1)."
    ),
    batch_size: int = typer.Option(
        1, "--batch-size", help="Questions per backend call (local/vLLM batching)."
    ),
    temperature: float = typer.Option(0.6, "--temperature", help="Teacher temperature."),
    top_p: float = typer.Option(0.95, "--top-p", help="Teacher top-p."),
    top_k: int = typer.Option(-1, "--top-k", help="Teacher top-k (-1 = off; hosted APIs take none)."),
    max_tokens: int = typer.Option(8192, "--max-tokens", help="Cap on teacher tokens per trace."),
    seed: int = typer.Option(
        0, "--seed", help="Run seed; each (question, sample) derives its own (fs1.seeding)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N questions."),
    on_error: str = typer.Option("record", "--on-error", help="record (log, go on) | abort."),
    price_in: float | None = typer.Option(
        None, "--price-in", help="Price per 1M prompt tokens (cost total)."
    ),
    price_out: float | None = typer.Option(None, "--price-out", help="Price per 1M completion tokens."),
    max_failures_in_a_row: int = typer.Option(
        20, "--max-failures-in-a-row", help="Stop after this many failed questions in a row (0 = never)."
    ),
    stream: bool = typer.Option(False, "--stream", help="openai backend: stream replies (long reasoning)."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="openai backend: env variable with the API key (default OPENAI_API_KEY)."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="openai backend: teacher tokenizer (path, hub id)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an existing TRACES.jsonl."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start TRACES.jsonl again from empty."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verbose: bool = typer.Option(
        False, "--verbose", help="Show library output too (always kept in TRACES.log.txt)."
    ),
    backend_option: list[str] | None = BACKEND_OPTION,
) -> None:
    from fs1.backends import BackendError
    from fs1.distill.inputs import load_paths, load_questions
    from fs1.distill.runner import DistillConfig, run_distillation

    with user_errors(), _one_line_config_errors():
        config = DistillConfig(
            mode=mode, teacher=teacher, backend=backend, base_url=base_url, samples=samples, no_path=no_path,
            concurrency=concurrency, batch_size=batch_size, temperature=temperature, top_p=top_p, top_k=top_k,
            max_tokens=max_tokens, seed=seed, on_error=on_error, price_in=price_in, price_out=price_out,
            max_failures_in_a_row=max_failures_in_a_row, stream=stream, api_key_env=api_key_env, tokenizer=tokenizer,
            backend_options=parse_backend_options(backend_option),
        )  # fmt: skip
        questions = load_questions(benchmark, limit, fmt)
        path_index = load_paths(paths) if paths is not None else None
        from fs1.manifest import side_manifest_path
        from fs1.stage_log import side_log_path

        inputs = {"benchmark": benchmark, "paths": paths}
        manifest, log = side_manifest_path(out), side_log_path(out)
        try:
            with recorded(manifest, log, seed=config.seed, inputs=inputs, verbose=verbose):
                summary = run_distillation(
                    questions,
                    config,
                    out,
                    paths=path_index,
                    resume=resume,
                    overwrite=overwrite,
                    show_progress=not quiet,
                )
        except BackendError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            console.print(f"Completed traces are kept in {out}; rerun with --resume to continue.")
            raise typer.Exit(1) from None
    _print_summary(summary, out)
    if summary.failed:
        raise typer.Exit(1)


@contextmanager
def _one_line_config_errors() -> Iterator[None]:
    """Turn a pydantic validation error of the run config into one ``--option: reason`` line."""
    from pydantic import ValidationError

    try:
        yield
    except ValidationError as exc:
        reasons = [f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}" for e in exc.errors() if e["loc"]]
        raise ValueError("; ".join(reasons) or str(exc)) from None


def _print_summary(summary: object, out: Path) -> None:
    from rich.table import Table

    s = summary  # DistillSummary
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
