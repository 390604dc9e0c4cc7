"""`fs1 generate`: answer a benchmark with a model under test-time scaling and write Prediction records.

Parse the options, run the generate stage (``fs1.generate.stage.GENERATE``) through the driver, print what it did;
heavy libraries load inside the command.
"""

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
from fs1.errors import ConfigError
from fs1.generate.predictions import GenerateConfig

_HELP = """Generate predictions for a benchmark with parallel sampling and s1 budget forcing.

For array jobs: run `--shard I/N` once per I (e.g. I = $SLURM_ARRAY_TASK_ID), then the same command with
`--merge-shards N` instead of `--shard`. Prompts use the model's chat template: the question + " Put your final
answer in \\boxed{}." (cot adds "Think step-by-step."; reasoning opens the s1 thinking block). Each record carries id,
sample, text (thinking, markers and answer), think/answer token counts, waits, finish reason, model, setting, budget
and seed."""

_MAX_THINK = typer.Option(
    None,
    "--max-think-tokens",
    min=1,
    help="Budget forcing: force the answer after this many thinking tokens.",
)
_THREADS = typer.Option(
    None, "--threads", min=1, help="CPU threads (transformers, llamacpp): --backend-option threads=N."
)
_DTYPE = typer.Option(
    None,
    "--dtype",
    help="transformers weights: auto (default: bfloat16 where the CPU has native BF16, else float32), "
    "float32, bfloat16, float16: --backend-option dtype=D.",
)
_RESUME = typer.Option(False, "--resume", help="Skip (id, sample, budget) records already in --out.")
_VERBOSE = typer.Option(False, "--verbose", help="Show library output too (always kept in OUT.log.txt).")


@app.command("generate", help=_HELP)
@schema_options(GenerateConfig, aliases={"model": ("-m",)}, exclude=("continue_sweep", "label"))
def generate(
    config: GenerateConfig,
    benchmark: str = BENCHMARK_OPTION,
    fmt: str = FORMAT_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Predictions JSONL, appended record by record."),
    max_think_tokens: int | None = _MAX_THINK,
    limit: int | None = typer.Option(None, "--limit", min=0, help="Only the first N questions."),
    threads: int | None = _THREADS,
    dtype: str | None = _DTYPE,
    resume: bool = _RESUME,
    shard: str | None = shard_option("answer"),
    merge_shards: int | None = merge_shards_option("Generate", "key"),
    verbose: bool = _VERBOSE,
) -> None:
    from fs1.data import load_benchmark
    from fs1.generate.stage import GENERATE, GenerateSpec
    from fs1.run.driver import merge, part_file, run_part, side_recording

    with user_errors():
        part = chosen_shard(shard, merge_shards)
        spec = GenerateSpec(_with_shortcuts(config, max_think_tokens, threads, dtype), console=console)
        questions = load_benchmark(benchmark, limit=limit, fmt=fmt)
        if merge_shards is not None:
            merged, _ = merge(GENERATE, spec, questions, out, merge_shards)
            console.print(f"merged {merge_shards} shards into {out}: {merged} predictions, every key once")
            return
        written = part_file(out, part)
        seed = spec.config.seed
        record = side_recording(written, seed=seed, inputs={"benchmark": benchmark}, verbose=verbose)
        summary = run_part(GENERATE, spec, questions, out, part, resume=resume, recording=record)
    console.print(
        f"wrote {summary.written} predictions to {written} ({summary.skipped} already there, "
        f"{summary.sequences} sequences generated)"
    )
    if summary.context:  # an over-long question is kept, marked, never silently empty
        console.print(
            f"[yellow]warning:[/] {summary.context} of them reached the model's context length (finish_reason "
            "context; a prompt that did not fit has no text): scoring counts them as truncated"
        )


def _with_shortcuts(
    config: GenerateConfig, max_think_tokens: int | None, threads: int | None, dtype: str | None
) -> GenerateConfig:
    """``--max-think-tokens N`` is ``--budgets N``; ``--threads``/``--dtype`` are backend options of their own."""
    if max_think_tokens is not None:
        if config.budgets is not None:
            raise ConfigError("give either --max-think-tokens or --budgets, not both")
        config = GenerateConfig.model_validate(config.model_dump() | {"budgets": [max_think_tokens]})
    shortcuts = {"threads": threads, "dtype": dtype}
    options = {name: value for name, value in shortcuts.items() if value is not None}
    if options:
        config = GenerateConfig.model_validate(
            config.model_dump() | {"options": {**options, **config.options}}
        )
    return config
