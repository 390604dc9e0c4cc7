"""`fs1 judge` (LLM-as-a-judge over scored predictions, rule-first cascade) and `fs1 judge-agreement`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from fs1.cli.app import app, console, user_errors
from fs1.cli.schema import schema_options
from fs1.judge.config import DEFAULT_BATCH_SIZE, JudgeConfig, JudgeSettings
from fs1.summary_types import JudgedSummary


def _option(field: str, *names: str, default: object = None) -> Any:
    """An option of ``fs1 judge-agreement`` worded as the ``JudgeSettings`` field it sets (declared once there)."""
    info = JudgeSettings.model_fields[field]
    return typer.Option(default, *names, help=info.description)


# `fs1 judge-agreement` takes a few judge settings, each worded by its schema field; None keeps the default.
JUDGE_BACKEND = _option("backend", "--backend", default=JudgeSettings.model_fields["backend"].default)
BASE_URL = _option("base_url", "--base-url")
API_KEY_ENV = _option("api_key_env", "--api-key-env")
CONCURRENCY = _option("concurrency", "--concurrency")
MAX_RETRIES = _option("max_retries", "--max-retries")
PROMPT = _option("prompt", "--prompt", default=JudgeSettings.model_fields["prompt"].default)
MAX_TOKENS = _option("max_tokens", "--max-tokens")
JUDGE_SAMPLES = _option("samples", "--judge-samples")
JUDGE_SEED = _option("seed", "--judge-seed")
BATCH_SIZE = _option("batch_size", "--batch-size", default=DEFAULT_BATCH_SIZE)
RULES = _option("rules", "--rules")


@app.command("judge")
@schema_options(JudgeConfig)
def judge(
    config: JudgeConfig,
    scores: Path = typer.Argument(
        ..., help="A `fs1 score` output directory (its scores.jsonl) or a predictions JSONL file."
    ),
    benchmark: str = typer.Option(
        ..., "--benchmark", "-b", help="Benchmark: 'sample' (bundled) or a file in the fs1 format."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output directory for judged.jsonl and judged_summary.json."
    ),
    cache: Path | None = typer.Option(
        None, "--cache", help="Verdict cache (JSONL), shareable between runs; default OUT/judge_cache.jsonl."
    ),
) -> None:
    """Judge every prediction with an LLM (the paper's containment judge or a SimpleQA-style grader).

    Identical normalised answers among a question's samples are judged once, verdicts are cached on disk (a
    re-run, or a run after a crash, asks only what is not cached), and in cascade mode measured rules decide
    sure cases without a call. Writes OUT/judged.jsonl (verdict per prediction, with where it came from) and
    OUT/judged_summary.json (the `fs1 score` summary over judge verdicts, plus SimpleQA attempted / accuracy
    given attempted / F1 per k and budget, judge calls, rule decisions, tokens and error verdicts, and the judge:
    settings and the engine its verdicts came from) and OUT/judged.manifest.json (provenance and that engine). The
    judge is opened only for answers the cache and the rules leave: a fully cached re-run needs no server."""
    from fs1.data import load_for_scoring
    from fs1.judge.cache import CACHE_FILE
    from fs1.judge.rules import get_rules
    from fs1.judge.stage import JUDGE, JUDGED_FILE, JUDGED_SUMMARY_FILE, read_scored
    from fs1.run.driver import run_part, side_recording

    with user_errors(), _backend_errors():
        get_rules(config.rules)  # an unknown rule name fails before anything is read
        bench = load_for_scoring(benchmark)
        # bad input is one line before anything is written (no manifest, log or cache)
        loaded = read_scored(scores, bench.questions, config.extract, bench.skipped)
        written = out / JUDGED_FILE
        # OUT/judged.manifest.json: provenance and the engine the verdicts came from; library output: judged.log.txt
        inputs = {"scores": scores, "benchmark": benchmark}
        record = side_recording(written, seed=0, inputs=inputs, verbose=False)
        with _progress() as advance:
            spec = _judge_spec(config, scores, cache or out / CACHE_FILE, bench.skipped, loaded, advance)
            questions = list(
                {q.ID: q for q in bench.questions.values()}.values()
            )  # each once (not by older ID)
            summary = run_part(JUDGE, spec, questions, written, resume=False, recording=record)
    _print_judged(summary)
    console.print(f"wrote {out / JUDGED_FILE} and {out / JUDGED_SUMMARY_FILE}")


def _judge_spec(
    config: JudgeConfig, scores: Path, cache: Path, skipped: Any, loaded: Any, progress: Callable[[int], None]
) -> Any:
    """What `fs1 judge` runs: the judge stage over ``scores`` (already ``loaded``), the judge opened by the stage."""
    from fs1.judge.judge import load_judge
    from fs1.judge.stage import JudgeRunSpec

    def load() -> Any:
        return load_judge(
            config.judge_ref(), prompt=config.prompt, cache_path=cache, sampling=config.sampling_only(),
            batch_size=config.batch_size,
        )  # fmt: skip

    info = {"model": config.model, "backend": config.resolved_backend(), "prompt": config.prompt}
    return JudgeRunSpec(
        scores, load, mode=config.mode, rules=config.rules, ks=config.k or None, info=info, extract=config.extract,
        skipped=skipped, progress=progress, loaded=loaded,
    )  # fmt: skip


@app.command("judge-agreement")
def judge_agreement(
    labelled: Path = typer.Argument(
        ..., help="Labelled JSONL: benchmark question fields, prediction, label, attempted."
    ),
    model: str | None = typer.Option(
        None, "--judge", help="Judge model; without it only the rules are measured."
    ),
    backend: str = JUDGE_BACKEND,
    base_url: str | None = BASE_URL,
    api_key_env: str | None = API_KEY_ENV,
    concurrency: int | None = CONCURRENCY,
    max_retries: int | None = MAX_RETRIES,
    prompt: str = PROMPT,
    max_tokens: int | None = MAX_TOKENS,
    judge_samples: int | None = JUDGE_SAMPLES,
    judge_seed: int | None = JUDGE_SEED,
    batch_size: int = BATCH_SIZE,
    rules: str | None = RULES,
    cache: Path | None = typer.Option(None, "--cache", help="Verdict cache (JSONL) for the judge's replies."),
    limit: int | None = typer.Option(None, "--limit", help="Use only the first N labelled cases."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the full report here (JSON)."),
) -> None:
    """Measure the cascade against human labels: each candidate rule's precision, the judge calls the cascade
    saves against judging all answers, the confusion of its rule decisions, and (with --judge) the judge's
    agreement."""
    from fs1.io import write_json_atomic
    from fs1.judge.agreement import agreement_report, load_labelled
    from fs1.judge.judge import load_judge
    from fs1.judge.rules import get_rules

    with user_errors(), _backend_errors():
        cases = load_labelled(labelled)[:limit]
        rule_list = get_rules(_names(rules))
        the_judge = None
        if model is not None:
            the_judge = load_judge(
                model, backend=backend, prompt=prompt, cache_path=cache, base_url=base_url,
                api_key_env=api_key_env, concurrency=concurrency, max_retries=max_retries,
                sampling=_sampling(max_tokens, judge_samples, judge_seed),
                batch_size=batch_size,
            )  # fmt: skip
        with _progress() as advance:
            report = agreement_report(cases, the_judge, rules=rule_list, progress=advance)
        if out is not None:
            write_json_atomic(out, report)
    print_agreement(report)


def _sampling(max_tokens: int | None, samples: int | None, seed: int | None) -> Any:
    """The judge sampling the options ask for; options left out keep ``JudgeSampling``'s defaults."""
    from pydantic import ValidationError

    from fs1.errors import ConfigError, validation_message
    from fs1.judge.config import JudgeSampling

    given = {"max_tokens": max_tokens, "samples": samples, "seed": seed}
    try:
        return JudgeSampling(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        raise ConfigError(validation_message(exc)) from None


def _names(rules: str | None) -> list[str] | None:
    return None if rules is None else [name.strip() for name in rules.split(",") if name.strip()]


@contextmanager
def _progress() -> Iterator[Callable[[int], None]]:
    """A Rich progress bar over judge requests; yields the callback that advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("judge", total=None)
        yield lambda n: bar.update(task, advance=n)


@contextmanager
def _backend_errors() -> Iterator[None]:
    """A judge backend that fails (after its retries) or cannot load: one line and exit 1, no stack trace."""
    from fs1.backends.base import BackendError

    try:
        yield
    except BackendError as exc:
        console.print(f"[bold red]error:[/] the judge failed: {exc}")
        console.print("verdicts received so far are in the cache; run the same command again to go on")
        raise typer.Exit(1) from None


def _print_judged(summary: JudgedSummary) -> None:
    from rich.table import Table

    from fs1.cli.tables import accounting_line, by_k_table

    ks = [str(k) for k in summary["ks"]]
    table = Table(
        title=f"fs1 judge ({summary['judge']['prompt']} prompt, {summary['extract']} extraction, "
        f"n = {summary['n']} samples per question)"
    )
    columns = ["slice", "questions", "accuracy", "attempted", "acc|att", "F1"]
    for column in columns:
        table.add_column(column, justify="left" if column == "slice" else "right")
    slices = [("overall", summary["overall"])] + [(f"  {src}", s) for src, s in summary["by_source"].items()]
    for name, s in slices:
        table.add_row(
            name, str(s["n_questions"]), f"{s['accuracy']:.3f}", f"{s['attempted']:.3f}",
            f"{s['accuracy_given_attempted']:.3f}", f"{s['simpleqa_f1']:.3f}",
        )  # fmt: skip
    console.print(table)
    if ks:
        rows = [(name, s["pass@k"]) for name, s in slices]
        console.print(by_k_table("pass@k (judged correct among k samples), by k", ks, rows))
    tokens = summary["tokens"]
    console.print(
        f"judge calls {summary['judge_calls']}, cache hits {summary['cache_hits']}, decided by rule "
        f"{summary['decided_by_rule']}, no answer {summary['no_answer']}, shared by identical answers "
        f"{summary['deduplicated']}; tokens {tokens['prompt']} in / {tokens['completion']} out"
    )
    if summary["errors"]:
        console.print(
            f"[yellow]warning:[/] {summary['errors']} prediction(s) got an unparseable judge reply "
            "(error verdicts, counted as not correct); run again to re-ask them"
        )
    for warning in summary.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    console.print(accounting_line(summary), soft_wrap=True)


def print_agreement(report: dict[str, Any]) -> None:
    """Print an agreement report: the candidate rules, the cascade's savings, the judge's agreement."""
    from rich.table import Table

    table = Table(title=f"rules vs human labels ({report['answered']} answered of {report['n_cases']} cases)")
    for column in ("rule", "verdict", "fired", "agree", "precision", "wilson low", "keep"):
        table.add_column(column, justify="left" if column in ("rule", "verdict") else "right")
    for r in report["candidates"]:
        table.add_row(
            r["rule"], r["verdict"], str(r["fired"]), str(r["agree"]), f"{r['precision']:.3f}",
            f"{r['wilson_low']:.3f}", "yes" if r["keep"] else "no",
        )  # fmt: skip
    console.print(table)
    c = report["cascade"]
    console.print(
        f"cascade ({', '.join(c['rules'])}): decided {c['decided']} of {report['answered']} "
        f"({c['decided_rate']:.1%}), agreement {c['agreement']:.2%}; judge calls "
        f"{report['cascade_calls']} vs {report['judge_all_calls']} judging all: "
        f"{report['calls_saved']:.1%} fewer"
    )
    console.print(f"rule decisions vs labels: {c['confusion']}")
    if "judge" in report:
        j = report["judge"]
        console.print(
            f"judge {j['model']} ({j['prompt']}): agreement {j['agreement_on_answered']:.2%} "
            f"on {j['judged']} answered cases, {j['errors']} error verdicts; "
            f"judge-all {j['judge_all_agreement']:.2%}, cascade {j['cascade_agreement']:.2%} over all cases"
        )
