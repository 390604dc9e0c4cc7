"""``fs1 run``: drive one experiment file through every stage, running only what is missing or changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.io import atomic_open, read_jsonl_rows
from fs1.manifest import MANIFEST_NAME, recording
from fs1.redact import redact_text
from fs1.run.cluster import make_executor
from fs1.run.config import ExecutorSpec, Experiment, load_experiment
from fs1.run.driver import Shard
from fs1.run.jobs import EXPERIMENT_COPY
from fs1.run.only import Only, OnlyDone
from fs1.run.pipeline import TRAINED_SETTINGS, Log, Pipeline
from fs1.run.results import kg_selection_rows, summary_rows, write_results
from fs1.run.rundir import claim, driver_lock, manifest_of, prune_stale, recorded_origin
from fs1.summary_types import Summary


def run_experiment(
    experiment_file: str | Path,
    rundir: str | Path,
    log: Log = print,
    executor: str | None = None,
    shards: int | None = None,
    *,
    verbose: bool = False,
    only: str | None = None,
    shard: Shard | None = None,
    force: bool = False,
    prune: bool = False,
) -> Pipeline:
    """Run (or resume) the experiment into ``rundir``; returns the pipeline with each stage's outcome.

    ``executor`` and ``shards`` override the experiment file's ``executor.kind`` and ``executor.shards``. The stages
    run in waves — (paths) → distill → SFT + train → generate → score (+ judge) — and each wave's heavy stages
    go to the executor together, so independent runs and shards run side by side. Library output goes to each
    stage's ``log.txt``; ``verbose`` shows it on the terminal as well. ``rundir/manifest.json`` records what made
    the run (versions, hardware, seeds, times) and marks the directory as fs1's: a non-empty directory without it is
    refused unless ``force``. One driver at a time holds ``rundir/.lock``. ``prune`` deletes outputs an edited
    experiment made stale instead of moving them to ``rundir/.stale``. ``only``: run that one stage (``shard``: that
    shard of it) as a job of the run would (``fs1.run.only``).
    """
    experiment_file, rundir = Path(experiment_file), Path(rundir)
    claim(rundir, force=force, experiment=experiment_file)
    origin = recorded_origin(rundir) or experiment_file.resolve().parent
    exp = with_executor_overrides(load_experiment(experiment_file, origin), executor, shards)
    if only is not None:
        return run_only(exp, experiment_file, rundir, origin, log, Only(only, shard), verbose=verbose)
    with driver_lock(rundir):
        keep_experiment_copy(experiment_file, rundir / EXPERIMENT_COPY, log)
        engine = make_executor(exp.executor.kind, rundir, exp.executor)
        pipe = Pipeline(exp, rundir, experiment_file, log, verbose=verbose, executor=engine, base=origin)
        pipe.prune = prune
        if prune:
            prune_stale(rundir, log)
        drive(pipe, experiment_file, origin)
    return pipe


def drive(pipe: Pipeline, experiment_file: Path, origin: Path) -> None:
    """Every stage of the run, recorded in its manifest (which marks the directory fs1's), then the report."""
    from fs1.report import write_report

    exp, rundir = pipe.exp, pipe.rundir
    inputs: dict[str, str | Path | None] = {"experiment": experiment_file}
    extra = {"experiment_dir": str(origin)}
    with recording(rundir / MANIFEST_NAME, seeds={"run": exp.seed}, inputs=inputs, extra=extra) as manifest:
        run_stages(pipe)
        manifest["seeds"]["train"] = {
            f"{s.name}-{mode}": pipe.train_seed(s, mode) for s in exp.students for mode in trained_modes(exp)
        }
    write_report(rundir, title=f"fs1 report — {exp.name}")


def run_only(
    exp: Experiment, experiment_file: Path, rundir: Path, origin: Path, log: Log, only: Only, *, verbose: bool
) -> Pipeline:
    """One stage (or shard) of the run, as a job: no driver lock; the run directory is marked fs1's if new."""
    prepare_rundir(experiment_file, rundir, origin, exp.seed)
    pipe = Pipeline(exp, rundir, experiment_file, log, verbose=verbose, base=origin, job=True)
    pipe.only = only
    try:
        run_stages(pipe)
    except OnlyDone:
        return pipe
    raise ConfigError(f"{only.stage}: no such stage in this experiment; its stages: {', '.join(only.seen)}")


def prepare_rundir(experiment_file: Path, rundir: Path, origin: Path, seed: int) -> None:
    """Make ``rundir`` an fs1 run directory if it is not one yet: the experiment's copy and the manifest (the
    marker), as ``fs1 plan --dry-run`` leaves it for the jobs it writes. The copy of another experiment there is
    refused: the run's jobs would mix the two."""
    copy = rundir / EXPERIMENT_COPY
    if (
        copy.exists()
        and not copy.samefile(experiment_file)
        and copy.read_bytes() != experiment_file.read_bytes()
    ):
        raise ConfigError(
            f"{copy} is another experiment than {experiment_file}: use the run's own copy, or another --out"
        )
    keep_experiment_copy(experiment_file, copy)
    if manifest_of(rundir) is None:
        extra = {"experiment_dir": str(origin)}
        with recording(
            rundir / MANIFEST_NAME, seeds={"run": seed}, inputs={"experiment": experiment_file}, extra=extra
        ):
            pass


def trained_modes(exp: Experiment) -> list[str]:
    """The fine-tuned settings the experiment asks for (rt, fs1), in pipeline order."""
    return [s for s in TRAINED_SETTINGS if s in exp.settings]


def run_stages(pipe: Pipeline) -> None:
    """Every stage of the experiment, wave by wave, then ``results.parquet``."""
    exp = pipe.exp
    pipe.run_benchmark()
    modes = trained_modes(exp)
    if "fs1" in modes:
        pipe.run_paths()
        pipe.barrier()
    for mode in modes:
        pipe.run_distill(mode)
    pipe.barrier()
    for student in exp.students:
        for mode in modes:
            pipe.run_sft(student, mode)
            pipe.run_train(student, mode)
    pipe.barrier()
    runs = [pipe.run_generate(student, setting) for student in exp.students for setting in exp.settings]
    pipe.barrier()
    summaries: dict[str, Summary] = {}
    for run in runs:
        summaries[run] = pipe.run_score(run)
        if exp.judge is not None:
            pipe.run_judge(run)
    pipe.barrier()
    if pipe.only is not None:  # `--only`: the walk passed every stage without meeting the one asked for
        return
    pipe.clean_stale_runs(runs)
    pipe.runs = runs
    write_results_table(pipe, runs, summaries)


def with_executor_overrides(exp: Experiment, executor: str | None, shards: int | None) -> Experiment:
    """The experiment with the command line's ``--executor``/``--shards`` in place of the file's."""
    update: dict[str, Any] = {}
    if executor is not None:
        update["kind"] = executor
    if shards is not None:
        update["shards"] = shards
        update["questions_per_shard"] = None
    if not update:
        return exp
    spec = ExecutorSpec.model_validate({**exp.executor.model_dump(), **update})
    return exp.model_copy(update={"executor": spec})


def keep_experiment_copy(experiment_file: Path, copy: Path, log: Log = print) -> None:
    """Keep the experiment beside its results; rerunning from that very copy (``fs1 run RUN/experiment.yaml
    --out RUN``) simply resumes. Secrets in it (a password in the ``kg`` URL, a key in a ``base_url``) are masked
    in the copy, which then cannot be rerun as it is: the console says so."""
    if copy.exists() and copy.samefile(experiment_file):
        return
    copy.parent.mkdir(parents=True, exist_ok=True)
    # Loaded as UTF-8 already; bytes, so that its line ends stay as they are.
    text = experiment_file.read_bytes().decode("utf-8")
    kept = redact_text(text)
    with atomic_open(copy, "wb") as fh:
        fh.write(kept.encode("utf-8"))
    if kept != text:
        log(
            f"note: {copy} has the experiment's secrets masked (***): rerun from {experiment_file}, "
            "or keep secrets out of the file (the API key comes from the environment)"
        )


def quiet_library_logs() -> None:
    """Keep the run's own progress readable: no per-step bars from datasets, no transformers info chatter."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()


def write_results_table(pipe: Pipeline, runs: list[str], summaries: dict[str, Summary]) -> Path:
    """``results.parquet``: every summary number, plus KG-verified selection where the KG knows the entities."""
    from fs1.kg import supports

    questions = {q.ID: q for q in pipe.questions()}
    kg = pipe.open_kg()
    cache: dict[tuple[str, str], bool] = {}

    def supported(question: Any, answer: str) -> bool:
        key = (question.ID, answer)
        if key not in cache:
            try:
                cache[key] = bool(question.question_entities) and supports(
                    kg, question.question_entities, answer
                )
            except Exception:  # an unreachable endpoint or unmapped id only means "no KG support"
                cache[key] = False
        return cache[key]

    rows: list[dict[str, Any]] = []
    for run in runs:
        model, setting = run.split("__", 1)
        rows += summary_rows(run, model, setting, summaries[run])
        scores = [row for _, row in read_jsonl_rows(pipe.rundir / "score" / run / "scores.jsonl")]
        base = {"run": run, "model": model, "setting": setting}
        rows += kg_selection_rows(base, scores, questions, pipe.exp.ks, supported, pipe.exp.seed)
    return write_results(rows, pipe.rundir / "results.parquet")
