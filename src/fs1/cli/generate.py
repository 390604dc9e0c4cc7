"""`fs1 generate`: answer a benchmark with a model under test-time scaling and write Prediction records.

A thin command over :func:`fs1.generate.generate_predictions`; heavy libraries load inside the command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import (
    BACKEND_OPTION,
    BENCHMARK_FORMAT_HELP,
    app,
    console,
    parse_backend_options,
    parse_int_list,
    user_errors,
)


@app.command("generate")
def generate(
    benchmark: str = typer.Option(
        ...,
        "--benchmark",
        "-b",
        help="'sample' (bundled), an fs1-format JSONL/JSON/Parquet file, a dataset file, or a hub id.",
    ),
    fmt: str = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Predictions JSONL, appended record by record."),
    model: str = typer.Option(
        "smollm2-135m", "--model", "-m", help="Checkpoint dir, hub id, GGUF, or smollm2-135m."
    ),
    backend: str = typer.Option("transformers", "--backend", help="transformers | llamacpp | vllm | openai."),
    base_url: str | None = typer.Option(
        None, "--base-url", help="Server URL for --backend openai (key: env only)."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="--backend openai: the model's tokenizer (path, hub id, smollm2-135m)."
    ),
    setting: str = typer.Option(
        "instruct",
        "--setting",
        help="instruct | cot | abstain (answer only when sure) | reasoning (s1 think/answer).",
    ),
    n: int = typer.Option(1, "--n", min=1, help="Samples per question (parallel sampling; pass@k needs 16)."),
    max_think_tokens: int | None = typer.Option(
        None,
        "--max-think-tokens",
        min=1,
        help="Budget forcing: force the answer after this many thinking tokens.",
    ),
    min_think_tokens: int | None = typer.Option(
        None,
        "--min-think-tokens",
        min=0,
        help="Budget forcing: cut early ends of thinking and append ' Wait,'.",
    ),
    budgets: str | None = typer.Option(
        None, "--budgets", help="Comma-separated thinking budgets swept in one run, e.g. 256,512,1024."
    ),
    limit: int | None = typer.Option(None, "--limit", min=0, help="Only the first N questions."),
    temperature: float | None = typer.Option(
        None, "--temperature", min=0, help="Default: the paper's per setting."
    ),
    top_p: float | None = typer.Option(None, "--top-p", help="Default: 0.8 instruct/cot, 0.95 reasoning."),
    top_k: int | None = typer.Option(
        None, "--top-k", help="Default: 20 instruct/cot, 40 reasoning; -1 = off."
    ),
    repetition_penalty: float | None = typer.Option(None, "--repetition-penalty", help="Default: 1.05."),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", min=1, help="Cap on new tokens (default 8000)."
    ),
    answer_max_tokens: int = typer.Option(
        256, "--answer-max-tokens", min=1, help="Budget forcing: cap on the greedy answer after thinking."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="CPU threads (transformers, llamacpp)."
    ),
    dtype: str | None = typer.Option(
        None,
        "--dtype",
        help="transformers weights: float32 (CPU default), bfloat16 (faster on AVX512-BF16 CPUs).",
    ),
    seed: int = typer.Option(0, "--seed", help="Run seed; per-sample seeds derive from it and are recorded."),
    batch: int = typer.Option(64, "--batch", min=1, help="Sequences (question × sample) decoded together."),
    resume: bool = typer.Option(
        False, "--resume", help="Skip (id, sample, budget) records already in --out."
    ),
    shard: str | None = typer.Option(
        None,
        "--shard",
        help="I/N: answer only shard I (0-based) of N contiguous question slices, into OUT.shard-I-of-N.jsonl.",
    ),
    merge_shards: int | None = typer.Option(
        None,
        "--merge-shards",
        min=1,
        help="Generate nothing: merge the N shard files of --out into --out, checking every key once.",
    ),
    backend_option: list[str] | None = BACKEND_OPTION,
) -> None:
    """Generate predictions for a benchmark with parallel sampling and s1 budget forcing.

    For array jobs: run `--shard I/N` once per I (e.g. I = $SLURM_ARRAY_TASK_ID), then the same command with
    `--merge-shards N` instead of `--shard`. Prompts use the model's chat template: the question + " Put your final answer in \\boxed{}." (cot adds
    "Think step-by-step."; reasoning opens the s1 thinking block). Each record carries id, sample, text (thinking,
    markers and answer), think/answer token counts, waits, finish reason, model, setting, budget and seed.
    """
    from fs1.generate import GenerateConfig

    budget_list = parse_int_list(budgets)
    with user_errors():
        if budget_list is not None and max_think_tokens is not None:
            raise ValueError("give either --max-think-tokens or --budgets, not both")
        if max_think_tokens is not None:
            budget_list = [max_think_tokens]
        config = GenerateConfig(
            model=model, setting=setting, n=n, budgets=budget_list, min_think_tokens=min_think_tokens,
            temperature=temperature, top_p=top_p, top_k=top_k, repetition_penalty=repetition_penalty,
            max_tokens=max_tokens, answer_max_tokens=answer_max_tokens, seed=seed, batch_sequences=batch,
        )  # fmt: skip
        if merge_shards is not None:
            if shard is not None:
                raise ValueError("give either --shard or --merge-shards, not both")
            merged = _merge(benchmark, fmt, limit, config, out, merge_shards)
            console.print(f"merged {merge_shards} shards into {out}: {merged} predictions, every key once")
            return
        options = _backend_options(backend, base_url, threads, dtype)
        if tokenizer is not None:
            if backend != "openai":
                raise ValueError(f"--tokenizer applies to the openai backend, not {backend!r}")
            options["tokenizer"] = tokenizer
        options.update(parse_backend_options(backend_option))
        summary = _run(benchmark, fmt, limit, backend, options, config, out, resume, shard)
    console.print(
        f"wrote {summary.written} predictions to {out} ({summary.skipped} already there, "
        f"{summary.sequences} sequences generated)"
    )


def _backend_options(backend: str, base_url: str | None, threads: int | None, dtype: str | None) -> dict:
    options: dict[str, object] = {"base_url": base_url} if base_url else {}
    local = ("transformers", "llamacpp")
    if threads is not None:
        if backend not in local:
            raise ValueError(f"--threads applies to the transformers and llamacpp backends, not {backend!r}")
        options["threads"] = threads
    if dtype is not None:
        if backend != "transformers":
            raise ValueError(f"--dtype applies to the transformers backend, not {backend!r}")
        options["dtype"] = dtype
    return options


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
    backend: str,
    options: dict,
    config,  # noqa: ANN001
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
        summary = generate_with_progress(
            questions, backend, config.model, config, out, resume=resume, console=console, **options
        )
        if shard is not None:
            mark_done(out)
        return summary
    except BackendError as exc:
        # Transport failures after retries, unusable models: one line, no stack trace, records so far kept.
        raise ValueError(f"backend {backend!r}: {exc}") from None
