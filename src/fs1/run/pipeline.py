"""The stages of one experiment, in order, each resumable (see ``stage.py``):

benchmark → paths → distill/{rt,fs1} → sft/<student>-<mode> → train/<student>-<mode> → generate/<run> → score/<run>
(→ judge/<run>) → results.parquet → report.html, where ``<run>`` is ``<student>__<setting>``.

instruct and cot runs use the base student; rt and fs1 runs use the student fine-tuned on rt or fs1 traces, with
the s1 think/answer format and budget forcing when budgets are given.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs1.generate.predictions import NOT_RECORDED
from fs1.io import JsonlAppender, completed_keys, read_records, write_json_atomic, write_jsonl_atomic
from fs1.records import PathRecord, Question
from fs1.run.config import Experiment, ModelSpec, resolve_input
from fs1.run.executors import Executor, Job, JobFailure, Ledger, LocalExecutor
from fs1.run.generation import effective_generation
from fs1.run.resources import resolve_resources
from fs1.run.shards import RUNNING, drop_other_counts, mark_done, merge_shards, pending_shards, shard_path
from fs1.run.stage import LOG_NAME, StageResult, close_stage, open_stage
from fs1.seeding import derive_seed
from fs1.stage_log import side_log_path, stage_log
from fs1.summary_types import SUMMARY_FILE, Summary, load_summary
from fs1.vocab import TRACE_MODES

if TYPE_CHECKING:
    from fs1.backends.ref import ModelRef
    from fs1.distill import DistillConfig
    from fs1.kg import KG

# Settings whose student is first fine-tuned on traces of the same name.
TRAINED_SETTINGS = TRACE_MODES
# Budget-forcing fields change only the rt/fs1 runs; an instruct/cot run depends on the rest.
FORCING_FIELDS = {"budgets", "min_think_tokens", "answer_max_tokens", "greedy_budgets", "continue_sweep"}
# Bumped when the score summary gains fields, so runs scored before are scored again (cheap) on resume.
SCORE_METRICS_VERSION = (
    3  # 3: question accounting (excluded, questions_without_predictions), BCE eras, Unicode
)
ATTEMPTS = ".attempts.jsonl"
Log = Callable[[str], None]


class StagesFailed(RuntimeError):
    """Some jobs of a wave failed; what finished is kept and a re-run of the same command resumes the rest."""

    def __init__(self, failures: list[JobFailure]) -> None:
        lines = [f"  {f.job.label} (job {f.job_id}): {f.error}" for f in failures]
        super().__init__(
            f"{len(failures)} job(s) failed:\n"
            + "\n".join(lines)
            + "\nre-run the same command to resume them"
        )
        self.failures = failures


@dataclass
class Sharding:
    """How a stage splits: ``run(stage_dir, i, n)`` writes shard i of n of ``output``; the merge checks ``key``."""

    count: int
    output: str
    run: Callable[[Path, int, int], None]
    expected: Callable[[], set[Hashable]]
    key: Callable[[dict[str, Any]], Hashable]
    # after the merge, in the driver: the stage's own side files (distill: errors and summary) and console line
    after_merge: Callable[[Path], None] | None = None


@dataclass
class PendingStage:
    """A stage whose jobs are queued for the next wave."""

    result: StageResult
    config: dict[str, Any]
    jobs: list[Job]
    sharding: Sharding | None


def note_running(directory: Path, job: str, sidecar: Path) -> None:
    """Which process works on a job: a sidecar file (for ``fs1 status`` and people chasing a stuck job) and a
    line in the stage's ``.attempts.jsonl`` (a retried or requeued job shows as a second attempt)."""
    import os
    import socket
    import time

    row = {"job": job, "pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    write_json_atomic(sidecar, row)
    with JsonlAppender(directory / ATTEMPTS, shared=True) as sink:  # shards of a stage append at once
        sink.write(row)


def _run_whole(work: Callable[[Path], None], directory: Path, verbose: bool = False) -> None:
    note_running(directory, directory.name, directory / RUNNING)
    with stage_log(directory / LOG_NAME, verbose=verbose):
        work(directory)


def _run_shard(
    run: Callable[[Path, int, int], None],
    directory: Path,
    output: str,
    index: int,
    count: int,
    verbose: bool = False,
) -> None:
    part = shard_path(directory / output, index, count)
    note_running(directory, part.name, part.with_name(part.name + RUNNING))
    # each shard its own log: shards of one stage may run at the same time on different nodes
    with stage_log(side_log_path(part), verbose=verbose):
        run(directory, index, count)
    mark_done(part)


def fold_shard_logs(out: Path, count: int, log: Path) -> None:
    """Append each shard's log to the stage's ``log.txt``, in shard order, and remove it: a merged stage keeps no
    shard files."""
    for index in range(count):
        part_log = side_log_path(shard_path(out, index, count))
        if part_log.exists():
            with log.open("a", encoding="utf-8") as sink:
                sink.write(f"--- shard {index} of {count} ---\n")
                sink.write(part_log.read_text(encoding="utf-8", errors="replace"))
            part_log.unlink()


@dataclass
class Pipeline:
    """Runs an experiment into ``rundir``; each method is one stage and returns its fingerprint."""

    exp: Experiment
    rundir: Path
    experiment_file: Path
    log: Log = print
    verbose: bool = False  # library output on the terminal too (always in each stage's log.txt)
    fingerprints: dict[str, str] = field(default_factory=dict)
    results: list[StageResult] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # model × setting runs, in experiment order
    executor: Executor = field(default_factory=LocalExecutor)
    pending: list[PendingStage] = field(default_factory=list)

    def __getstate__(self) -> dict[str, Any]:
        """What a job carries to a worker: the experiment and paths, not the driver's console or executor."""
        state = dict(self.__dict__)
        state.update(log=print, results=[], pending=[], executor=LocalExecutor())
        return state

    def stage(
        self,
        name: str,
        config: dict[str, Any],
        work: Callable[[Path], None],
        kind: str | None = None,
        model: ModelRef | None = None,
        sharding: Sharding | None = None,
    ) -> Path:
        """Run a stage unless it is up to date. A heavy stage (``kind`` given) becomes jobs — one per unfinished
        shard — queued for the next ``barrier``; light stages, and every stage under the local executor without
        shards, run here and now."""
        result = open_stage(self.rundir, name, config, self.log)
        self.fingerprints[name] = result.fingerprint
        self.results.append(result)
        if result.status == "skipped":
            return result.directory
        remote = kind is not None and self.executor.remote
        if not remote and sharding is None:
            self.log(f"▶ {name}: {'resuming' if result.status == 'resumed' else 'running'}")
            with stage_log(result.directory / LOG_NAME, verbose=self.verbose):
                work(result.directory)
            close_stage(result, config)
            return result.directory
        pending = PendingStage(result, config, self.jobs_for(result, work, kind, model, sharding), sharding)
        if remote:
            self.pending.append(pending)
        else:
            for job in pending.jobs:
                self.log(f"▶ {job.label}: running")
                job.fn()
            self.finish(pending)
        return result.directory

    def jobs_for(
        self,
        result: StageResult,
        work: Callable[[Path], None],
        kind: str | None,
        model: ModelRef | None,
        sharding: Sharding | None,
    ) -> list[Job]:
        spec = self.exp.executor
        res = resolve_resources(
            spec,
            kind or "default",
            model.model if model else None,
            model.resolved_backend() if model else None,
        )
        d = result.directory
        if sharding is None:
            return [Job(result.name, functools.partial(_run_whole, work, d, self.verbose), res)]
        out = d / sharding.output
        for stale in drop_other_counts(out, sharding.count):
            self.log(f"  {result.name}: shard count changed, dropped {stale.name}")
        return [
            Job(result.name,
                functools.partial(_run_shard, sharding.run, d, sharding.output, i, sharding.count, self.verbose),
                res, shard=i, shards=sharding.count)
            for i in pending_shards(out, sharding.count)
        ]  # fmt: skip

    def finish(self, pending: PendingStage) -> None:
        """Merge a sharded stage's outputs (every key exactly once) and mark the stage done."""
        sh = pending.sharding
        if sh is not None:
            out = pending.result.directory / sh.output
            merged = merge_shards(out, sh.count, sh.expected(), sh.key)
            fold_shard_logs(out, sh.count, pending.result.directory / LOG_NAME)
            self.log(f"  {pending.result.name}: merged {sh.count} shards, {merged} records")
            if sh.after_merge is not None:
                sh.after_merge(pending.result.directory)
        close_stage(pending.result, pending.config)

    def barrier(self) -> None:
        """Run every queued job on the executor, finish the stages whose jobs all succeeded, report the others."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        jobs = [job for p in pending for job in p.jobs]
        if jobs:
            self.log(f"⇪ {len(jobs)} job(s) on {self.executor.name}: " + ", ".join(j.label for j in jobs))
        failures = self.executor.run(jobs, Ledger(self.rundir, self.executor.name))
        failed = {f.job.stage for f in failures}
        for p in pending:
            if p.result.name not in failed:
                self.finish(p)
        if failures:
            raise StagesFailed(failures)

    # --- inputs ---
    def benchmark_spec(self, bench: str) -> str:
        local = resolve_input(bench, self.experiment_file) if bench != "sample" else None
        return str(local) if local else bench

    def kg_spec(self) -> str | None:
        if self.exp.kg == "bundled":
            return None
        if self.exp.kg.startswith("local:"):
            target = resolve_input(self.exp.kg.removeprefix("local:"), self.experiment_file)
            return f"local:{target}"
        return self.exp.kg

    def questions(self) -> list[Question]:
        """The evaluation questions of this run."""
        return read_records(self.rundir / "benchmark" / "questions.jsonl", Question)

    def train_questions(self) -> list[Question]:
        """The questions the teacher answers (``train_benchmark``; the evaluation questions when none is given)."""
        return read_records(self.rundir / "benchmark" / "train_questions.jsonl", Question)

    def select_questions(self, bench: str) -> list[Question]:
        from fs1.data import load_benchmark

        questions = load_benchmark(self.benchmark_spec(bench), fmt=self.exp.benchmark_format)
        if self.exp.limit is None:
            return questions
        if not self.exp.per_source:
            return questions[: self.exp.limit]
        kept: dict[str, int] = {}
        out = []
        for q in questions:
            if kept.get(q.source_of_data, 0) < self.exp.limit:
                kept[q.source_of_data] = kept.get(q.source_of_data, 0) + 1
                out.append(q)
        return out

    # --- stages ---
    def run_benchmark(self) -> None:
        questions = self.select_questions(self.exp.benchmark)
        train = self.select_questions(self.exp.train_benchmark) if self.exp.train_benchmark else questions
        if not self.exp.train_benchmark and any(s in TRAINED_SETTINGS for s in self.exp.settings):
            self.log(
                "[yellow]note:[/] no train_benchmark: the teacher answers the evaluation questions themselves "
                "(fine for a demo; build-sft's leakage check will flag every one)"
            )
        content = {"questions": [q.to_dict() for q in questions], "train": [q.to_dict() for q in train]}

        def work(d: Path) -> None:
            write_jsonl_atomic(d / "questions.jsonl", questions)
            write_jsonl_atomic(d / "train_questions.jsonl", train)

        self.stage("benchmark", content, work)

    def open_kg(self) -> KG:
        """The experiment's KG; a ``sparql:`` one asked as its ``endpoint`` section says."""
        from fs1.kg import open_kg

        options = self.exp.endpoint.model_dump() if self.exp.kg.startswith("sparql:") else {}
        return open_kg(self.kg_spec(), cache_dir=self.rundir / "cache" / "kg", **options)

    def run_paths(self) -> None:
        config = {
            "benchmark": self.fingerprints["benchmark"],
            "kg": self.exp.kg,
            "paths": self.exp.paths.model_dump(mode="json"),
        }
        graphs = self.exp.endpoint.model_dump(mode="json", include={"default_graph", "named_graph"})
        if self.exp.kg.startswith("sparql:") and any(graphs.values()):
            config["graphs"] = (
                graphs  # the graphs asked decide the data (absent when unset: older runs resume)
            )

        def paths_part(d: Path, index: int, count: int) -> None:
            from fs1.kg import find_paths
            from fs1.run.shards import shard_slice

            out = d / "paths.jsonl" if count == 1 else shard_path(d / "paths.jsonl", index, count)
            done = completed_keys(out, path_key)
            todo = [q for q in shard_slice(self.train_questions(), index, count) if q.ID not in done]
            with self.open_kg() as kg, JsonlAppender(out) as sink:
                for record in find_paths(kg, todo, settings=self.exp.paths):
                    sink.write(record)
                describe = getattr(kg, "describe", None)
                if describe is not None and count == 1:  # the endpoint's engine, graphs, caps and traffic
                    write_json_atomic(d / "kg_endpoint.json", describe())

        # A sparql: KG stays one job: its query cache is one SQLite file in WAL mode, which processes on different
        # nodes must not share over a network filesystem (and public endpoints throttle parallel clients anyway).
        # Local KGs shard: a store directory opens read-only, a small file loads into each process's memory, and a
        # large file's store is built once under a lock (fs1.kg.store.build_store).
        count = (
            1
            if self.exp.kg.startswith("sparql:")
            else self.exp.executor.shard_count(len(self.train_questions()))
        )
        sharding = None
        if count > 1:

            def expected() -> set[Hashable]:
                return {q.ID for q in self.train_questions()}

            sharding = Sharding(count, "paths.jsonl", paths_part, expected, path_key)
        work = functools.partial(paths_part, index=0, count=1)
        self.stage("paths", config, work, kind="paths", sharding=sharding)

    def run_distill(self, mode: str) -> None:
        t = self.exp.teacher
        config = {
            "benchmark": self.fingerprints["benchmark"],
            "teacher": t.fingerprint(),
            "mode": mode,
            "seed": self.exp.seed,
        }
        if mode == "fs1":
            config["paths"] = self.fingerprints["paths"]

        def settings() -> DistillConfig:
            from fs1.distill import DistillConfig

            return DistillConfig(
                **t.model_dump(exclude={"name", "mode"}) | {"mode": mode, "seed": self.exp.seed}
            )

        def paths() -> dict[str, PathRecord] | None:
            if mode != "fs1":
                return None
            return {r.ID: r for r in read_records(self.rundir / "paths" / "paths.jsonl", PathRecord)}

        def distill_part(d: Path, index: int, count: int) -> None:
            from fs1.distill import run_distillation
            from fs1.run.shards import shard_slice

            out = d / "traces.jsonl" if count == 1 else shard_path(d / "traces.jsonl", index, count)
            questions = shard_slice(self.train_questions(), index, count)
            summary = run_distillation(questions, settings(), out, paths=paths(), resume=True)
            if count == 1:  # a shard's counts are partial: the merge prints the stage's line
                self.log(distill_line(mode, summary.to_dict()))

        def expected() -> set[Hashable]:
            from fs1.run.distill_shards import expected_keys

            out = self.rundir / "distill" / mode / "traces.jsonl"
            return expected_keys(out, count, self.train_questions(), settings(), paths())

        def after_merge(d: Path) -> None:
            from fs1.run.distill_shards import finish_distill_merge

            self.log(distill_line(mode, finish_distill_merge(d / "traces.jsonl", count).to_dict()))

        count = self.exp.executor.shard_count(len(self.train_questions()))
        sharding = None
        if count > 1:
            from fs1.run.distill_shards import trace_key

            sharding = Sharding(count, "traces.jsonl", distill_part, expected, trace_key, after_merge)
        work = functools.partial(distill_part, index=0, count=1)
        self.stage(f"distill/{mode}", config, work, kind="distill", model=t, sharding=sharding)

    def run_sft(self, student: ModelSpec, mode: str) -> None:
        name = f"sft/{student.name}-{mode}"
        config = {
            "traces": self.fingerprints[f"distill/{mode}"],
            "student": student.model,
            "max_length": self.exp.train.max_length,
            "benchmark": self.fingerprints["benchmark"],
        }

        def work(d: Path) -> None:
            from fs1.distill.sft import build_sft_dataset

            stats = build_sft_dataset(
                [self.rundir / "distill" / mode / "traces.jsonl"],
                student.model,
                d / "dataset",
                max_length=self.exp.train.max_length,
                benchmark=self.questions(),
                overwrite=True,
            )
            counts = f"({stats.correct} correct, {stats.valid} well-formed)"
            if self.exp.train.filter_check:
                self.log(
                    f"  SFT set {student.name}-{mode}: {stats.kept} of {stats.traces} traces kept {counts}"
                )
            else:  # the paper's filter is off: training reads every answered trace, not the filtered split
                self.log(
                    f"  SFT set {student.name}-{mode}: {stats.traces} traces {counts}; filter_check is off, so "
                    "training uses every trace with an answer"
                )

        self.stage(name, config, work)

    def run_train(self, student: ModelSpec, mode: str) -> None:
        tr = self.exp.train
        config = {
            "sft": self.fingerprints[f"sft/{student.name}-{mode}"],
            "student": student.model,
            "train": tr.model_dump(exclude={"seed"}),
            "seed": self.train_seed(student, mode),
        }

        def work(d: Path) -> None:
            from fs1.train import TrainConfig, train
            from fs1.train.progress import QUIET_TRAINER_ARGS, TrainProgress

            if _finished_model(d / "model"):  # trained, then killed before the stage was closed: keep it
                self.log(
                    f"  {student.name}-{mode}: the model in {d / 'model'} is complete; not training again"
                )
                return
            data = self.rundir / "sft" / f"{student.name}-{mode}" / "dataset"
            if not tr.filter_check:
                data = answered_traces(data / "full", d / "answered.parquet")
                self.log(
                    f"  {student.name}-{mode}: training on {_parquet_rows(data)} answered traces (filter off)"
                )
            checkpoints = d / "model" / "checkpoints"
            resume = "latest" if any(checkpoints.glob("checkpoint-*")) else None
            run_owned = {
                "data": str(data),
                "model": student.model,
                "out": str(d / "model"),
                "merge_lora": tr.merge_lora or tr.use_peft,  # the run evaluates plain checkpoints
                "resume_from_checkpoint": resume,
                "overwrite": True,
                "save_steps": tr.max_steps if tr.max_steps > 0 else tr.save_steps,
                "seed": self.train_seed(student, mode),
                "extra_args": {} if self.verbose else dict(QUIET_TRAINER_ARGS),
            }
            cfg = TrainConfig(**tr.model_dump() | run_owned)
            result = train(cfg, callbacks=None if self.verbose else [TrainProgress(f"{student.name}-{mode}")])
            self.log(f"  trained {student.name}-{mode}: {result.global_step} steps, loss {result.train_loss}")

        self.stage(f"train/{student.name}-{mode}", config, work, kind="train", model=student)

    def train_seed(self, student: ModelSpec, mode: str) -> int:
        """The seed of one fine-tuning run (data order, initialisation of adapters, dropout)."""
        return derive_seed(self.exp.seed, "train", student.name, mode)

    def model_for(self, student: ModelSpec, setting: str) -> ModelRef:
        """The model a run of ``setting`` generates with: the student, or its checkpoint tuned on traces."""
        if setting in TRAINED_SETTINGS:
            return student.for_checkpoint(str(self.rundir / "train" / f"{student.name}-{setting}" / "model"))
        return student.ref()

    def run_generate(self, student: ModelSpec, setting: str) -> str:
        run = f"{student.name}__{setting}"
        g = self.exp.generation
        ref = self.model_for(student, setting)
        budgets = list(g.budgets or []) if setting in TRAINED_SETTINGS else []
        config = {
            "benchmark": self.fingerprints["benchmark"],
            "student": student.fingerprint(),
            "setting": setting,
            "generation": effective_generation(g, ref.model, budgets).model_dump(
                exclude={"seed", *NOT_RECORDED} | (set() if setting in TRAINED_SETTINGS else FORCING_FIELDS)
            ),
            "budgets": budgets,
            "seed": self.exp.seed,
        }
        if setting in TRAINED_SETTINGS:
            config["model"] = self.fingerprints[f"train/{student.name}-{setting}"]

        # On a cluster a vLLM job shards the model over the GPUs it was given (resources table / experiment file).
        gpus = resolve_resources(
            self.exp.executor, "generate", student.model, student.resolved_backend()
        ).gpus
        shard_over = ref.info().tensor_parallel_option
        if shard_over is not None and self.executor.remote and gpus > 1:
            ref = ref.with_options(**{shard_over: gpus})

        def generate_part(d: Path, index: int, count: int) -> None:
            from fs1.run.generation import generate_run
            from fs1.run.shards import shard_slice

            meta = {
                "model": student.name,
                "setting": setting,
                "backend": ref.resolved_backend(),
                "model_path": ref.model,
                "budgets": budgets,
                "n": g.n,
            }
            write_json_atomic(d / "run.json", meta)
            out = d / "predictions.jsonl"
            generate_run(
                shard_slice(self.questions(), index, count),
                run,
                ref,
                setting,
                g,
                budgets,
                out if count == 1 else shard_path(out, index, count),
                seed=self.exp.seed,
            )

        def expected_keys() -> set[Hashable]:
            planned: list[int | None] = list(budgets) or [None]
            return {(q.ID, s, b) for q in self.questions() for s in range(g.n) for b in planned}

        from fs1.generate.predictions import prediction_key

        count = self.exp.executor.shard_count(len(self.questions()))
        sharding = None
        if count > 1:
            sharding = Sharding(count, "predictions.jsonl", generate_part, expected_keys, prediction_key)
        work = functools.partial(generate_part, index=0, count=1)
        self.stage(f"generate/{run}", config, work, kind="generate", model=student, sharding=sharding)
        return run

    def run_score(self, run: str) -> Summary:
        config = {
            "generate": self.fingerprints[f"generate/{run}"],
            "ks": self.exp.ks,
            "seed": self.exp.seed,
            "metrics": SCORE_METRICS_VERSION,
            "extract": self.exp.extract,
        }

        def work(d: Path) -> None:
            from fs1.scoring import score_file

            by_id = {q.ID: q for q in self.questions()}
            summary = score_file(
                self.rundir / "generate" / run / "predictions.jsonl",
                by_id,
                d,
                ks=self.exp.ks,
                seed=self.exp.seed,
                extract=self.exp.extract,
            )
            for warning in summary.get("warnings", []):
                self.log(f"  [yellow]warning:[/] {warning}")

        d = self.stage(f"score/{run}", config, work)
        return load_summary(d / SUMMARY_FILE)

    def clean_stale_runs(self, runs: list[str]) -> None:
        """Drop generate/score dirs of runs no longer in the experiment, so the report shows only current runs."""
        for stage in ("generate", "score", "judge"):
            root = self.rundir / stage
            if root.is_dir():
                for child in root.iterdir():
                    if child.is_dir() and child.name not in runs:
                        shutil.rmtree(child)


def path_key(row: dict[str, Any]) -> str:
    """The question a path record belongs to (one record per train question)."""
    return str(row["ID"])


def distill_line(mode: str, s: dict[str, Any]) -> str:
    """The console line of a distill stage, from its summary (of the merged file when sharded)."""
    return (
        f"  {mode} traces: {s['file_traces']} in file ({s['file_correct']} correct, {s['file_valid']} "
        f"well-formed), {s['written']} written now in {s['wall_s']:.0f} s"
        + (f"; note: {s['note']}" if s.get("note") else "")
    )


def _finished_model(model_dir: Path) -> bool:
    """A finished ``fs1 train`` output: its summary and config are moved in last, the config very last."""
    from fs1.train.output import SUMMARY_FILE as TRAIN_SUMMARY

    return (model_dir / TRAIN_SUMMARY).exists() and (model_dir / "config.json").exists()


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def answered_traces(full_dir: Path, out: Path) -> Path:
    """Every trace with an attempt, correct or not (``require_correct: false``, for weak demo teachers)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from fs1.io import InputError, atomic_open

    table = pq.read_table(sorted(full_dir.glob("*.parquet")))
    table = table.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(table["model_attempt"])), 0))
    if table.num_rows == 0:
        raise InputError(
            f"{full_dir}: no trace has an answer to train on (the teacher never gave a final answer)"
        )
    with atomic_open(out, "wb") as fh:
        pq.write_table(table, fh)
    return out
