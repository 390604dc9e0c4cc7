"""`fs1 generate`: answer a benchmark with a model under test-time scaling and write Prediction records.

A thin command over :func:`fs1.generate.generate_predictions`; heavy libraries load inside the command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import (
    BENCHMARK_FORMAT_HELP,
    app,
    console,
    merge_shards_option,
    recorded,
    shard_option,
    user_errors,
)
from fs1.cli.schema import schema_options
from fs1.errors import ConfigError
from fs1.generate.predictions import GenerateConfig


@app.command("generate")
@schema_options(GenerateConfig, aliases={"model": ("-m",)}, exclude=("continue_sweep", "label"))
def generate(
    config: GenerateConfig,
    benchmark: str = typer.Option(
        ...,
        "--benchmark",
        "-b",
        help="'sample' (bundled), an fs1-format JSONL/JSON/Parquet file, a dataset file, or a hub id.",
    ),
    fmt: str = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Predictions JSONL, appended record by record."),
    max_think_tokens: int | None = typer.Option(
        None,
        "--max-think-tokens",
        min=1,
        help="Budget forcing: force the answer after this many thinking tokens.",
    ),
    limit: int | None = typer.Option(None, "--limit", min=0, help="Only the first N questions."),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="CPU threads (transformers, llamacpp): --backend-option threads=N."
    ),
    dtype: str | None = typer.Option(
        None,
        "--dtype",
        help="transformers weights: auto (default: bfloat16 where the CPU has native BF16, else float32), "
        "float32, bfloat16, float16: --backend-option dtype=D.",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Skip (id, sample, budget) records already in --out."
    ),
    shard: str | None = shard_option("answer"),
    merge_shards: int | None = merge_shards_option("Generate", "key"),
    verbose: bool = typer.Option(
        False, "--verbose", help="Show library output too (always kept in OUT.log.txt)."
    ),
) -> None:
    """Generate predictions for a benchmark with parallel sampling and s1 budget forcing.

    For array jobs: run `--shard I/N` once per I (e.g. I = $SLURM_ARRAY_TASK_ID), then the same command with
    `--merge-shards N` instead of `--shard`. Prompts use the model's chat template: the question + " Put your final answer in \\boxed{}." (cot adds
    "Think step-by-step."; reasoning opens the s1 thinking block). Each record carries id, sample, text (thinking,
    markers and answer), think/answer token counts, waits, finish reason, model, setting, budget and seed.
    """
    with user_errors():
        shortcuts = {"threads": threads, "dtype": dtype}  # backend options with options of their own
        options = {name: value for name, value in shortcuts.items() if value is not None}
        if max_think_tokens is not None:
            if config.budgets is not None:
                raise ConfigError("give either --max-think-tokens or --budgets, not both")
            config = GenerateConfig.model_validate(config.model_dump() | {"budgets": [max_think_tokens]})
        if options:
            config = GenerateConfig.model_validate(
                config.model_dump() | {"options": {**options, **config.options}}
            )
        if merge_shards is not None:
            if shard is not None:
                raise ConfigError("give either --shard or --merge-shards, not both")
            merged = _merge(benchmark, fmt, limit, config, out, merge_shards)
            console.print(f"merged {merge_shards} shards into {out}: {merged} predictions, every key once")
            return
        from fs1.manifest import side_manifest_path
        from fs1.run.shards import parse_shard, shard_path
        from fs1.stage_log import side_log_path

        # a shard records beside its own file: shards of one OUT may run at the same time
        written = out if shard is None else shard_path(out, *parse_shard(shard))
        manifest, log = side_manifest_path(written), side_log_path(written)
        with recorded(manifest, log, seed=config.seed, inputs={"benchmark": benchmark}, verbose=verbose):
            summary = _run(benchmark, fmt, limit, config, out, resume, shard)
    console.print(
        f"wrote {summary.written} predictions to {out} ({summary.skipped} already there, "
        f"{summary.sequences} sequences generated)"
    )
    if summary.context:  # an over-long question is kept, marked, never silently empty
        console.print(
            f"[yellow]warning:[/] {summary.context} of them reached the model's context length (finish_reason "
            "context; a prompt that did not fit has no text): scoring counts them as truncated"
        )


def _merge(benchmark: str, fmt: str, limit: int | None, config, out: Path, count: int) -> int:  # noqa: ANN001
    """Merge the shard files of ``out``; the expected keys come from the same questions, n and budgets."""
    from fs1.data import load_benchmark
    from fs1.generate.predictions import prediction_key
    from fs1.run.shards import merge_shards

    questions = load_benchmark(benchmark, limit=limit, fmt=fmt)
    budgets = sorted(set(config.budgets)) if config.budgets else [None]
    expected = {(q.ID, s, b) for q in questions for s in range(config.n) for b in budgets}
    return merge_shards(out, count, expected, prediction_key, remove_parts=False)


def _run(
    benchmark: str,
    fmt: str,
    limit: int | None,
    config: GenerateConfig,
    out: Path,
    resume: bool,
    shard: str | None = None,
):  # noqa: ANN202
    """Load questions and backend, generate with a progress bar; backend failures become one-line errors."""
    from fs1.backends.base import BackendError
    from fs1.data import load_benchmark
    from fs1.generate.progress import generate_with_progress
    from fs1.run.shards import mark_done, parse_shard, shard_path, shard_slice

    questions = load_benchmark(benchmark, limit=limit, fmt=fmt)
    if shard is not None:
        index, count = parse_shard(shard)
        questions = shard_slice(questions, index, count)
        out = shard_path(out, index, count)
    try:
        summary = generate_with_progress(questions, config, out, resume=resume, console=console)
        if shard is not None:
            mark_done(out)
        return summary
    except BackendError as exc:
        # Transport failures after retries, unusable models: one line, no stack trace, records so far kept.
        raise BackendError(f"backend {config.resolved_backend()!r}: {exc}") from None
