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
    recorded,
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
    verbose: bool = typer.Option(
        False, "--verbose", help="Show library output too (always kept in OUT.log.txt)."
    ),
    backend_option: list[str] | None = BACKEND_OPTION,
) -> None:
    """Generate predictions for a benchmark with parallel sampling and s1 budget forcing.

    Prompts use the model's chat template: the question + " Put your final answer in \\boxed{}." (cot adds
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
        options = _backend_options(backend, base_url, threads, dtype)
        if tokenizer is not None:
            if backend != "openai":
                raise ValueError(f"--tokenizer applies to the openai backend, not {backend!r}")
            options["tokenizer"] = tokenizer
        options.update(parse_backend_options(backend_option))
        from fs1.manifest import side_manifest_path
        from fs1.stage_log import side_log_path

        inputs = {"benchmark": benchmark}
        with recorded(side_manifest_path(out), side_log_path(out), seed=seed, inputs=inputs, verbose=verbose):
            summary = _run(benchmark, fmt, limit, backend, options, config, out, resume)
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


def _run(
    benchmark: str, fmt: str, limit: int | None, backend: str, options: dict, config, out: Path, resume: bool
):  # noqa: ANN001, ANN202
    """Load questions and backend, generate with a progress bar; backend failures become one-line errors."""
    from fs1.backends.base import BackendError
    from fs1.data import load_benchmark
    from fs1.generate.progress import generate_with_progress

    questions = load_benchmark(benchmark, limit=limit, fmt=fmt)
    try:
        return generate_with_progress(
            questions, backend, config.model, config, out, resume=resume, console=console, **options
        )
    except BackendError as exc:
        # Transport failures after retries, unusable models: one line, no stack trace, records so far kept.
        raise ValueError(f"backend {backend!r}: {exc}") from None
