"""The stages of one experiment, in order, each resumable (see ``markers.py``):

benchmark → paths → distill/{rt,fs1} → sft/<student>-<mode> → train/<student>-<mode> → generate/<run> → score/<run>
(→ judge/<run>) → results.parquet → report.html, where ``<run>`` is ``<student>__<setting>``.

instruct and cot runs use the base student; rt and fs1 runs use the student fine-tuned on rt or fs1 traces, with
the s1 think/answer format and budget forcing when budgets are given. ``Pipeline`` is the wave scheduler: each stage
is opened (skipped when up to date), run here or queued as jobs for the next ``barrier``, and merged and closed when
its jobs are done. What each stage is comes from ``stages.py`` and ``training.py``; how a part of one runs, from the
driver (``driver.py``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fs1.io import file_lock, read_records, write_jsonl_atomic
from fs1.records import Question
from fs1.run.cluster.executors import Executor, Job, JobFailure, Ledger, LocalExecutor
from fs1.run.cluster.resources import resolve_resources
from fs1.run.config import Experiment, ModelSpec, load_experiment, resolve_input
from fs1.run.driver import Shard, merge, remove_parts
from fs1.run.jobs import ATTEMPTS, EXPERIMENT_COPY, experiment_digest, fold_shard_logs, run_job, run_piece
from fs1.run.markers import LOG_NAME, MARKER, StageResult, close_stage, open_stage, read_marker
from fs1.run.rundir import recorded_origin, set_aside
from fs1.run.stages import HEAVY, TRAINED_SETTINGS, Part, config_for, family, heavy_model, part_for
from fs1.shards import changed_since_done, done_path, drop_other_counts
from fs1.summary_types import SUMMARY_FILE, Summary, load_summary

if TYPE_CHECKING:
    from fs1.kg import KG

Log = Callable[[str], None]
# In a stage directory: one merge at a time (the driver, or the last of its shards' jobs).
MERGE_LOCK = ".merge.lock"
SHARD_FILE = re.compile(r"^.+\.shard-\d+-of-\d+\..+$")  # a shard's records, marker, sidecar, log or side file
__all__ = ["ATTEMPTS", "TRAINED_SETTINGS", "Pipeline", "StagesFailed"]


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
class PendingStage:
    """A stage whose jobs are queued for the next wave."""

    result: StageResult
    config: dict[str, Any]
    part: Part
    jobs: list[Job]


class Fingerprints(dict[str, str]):
    """Each stage's fingerprint by name, noting which were read since ``reads`` was last cleared: a stage's config
    reads its inputs' fingerprints, which tells ``fs1 run --only`` what the stage needs."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.reads.add(name)
        return super().__getitem__(name)


@dataclass
class Pipeline:
    """Runs an experiment into ``rundir``; each ``run_*`` method is one stage."""

    exp: Experiment
    rundir: Path
    experiment_file: Path
    log: Log = print
    verbose: bool = False  # library output on the terminal too (always in each stage's log.txt)
    fingerprints: Fingerprints = field(default_factory=Fingerprints)
    results: list[StageResult] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # model × setting runs, in experiment order
    executor: Executor = field(default_factory=LocalExecutor)
    pending: list[PendingStage] = field(default_factory=list)
    base: Path | None = None  # the directory relative inputs also resolve in (the first experiment file's)
    prune: bool = False  # delete stale outputs rather than move them to RUNDIR/.stale
    job: bool = False  # this process is one job of the run (a cluster worker, `fs1 run --only`)
    only: Any = None  # `fs1 run --only`: the one stage to run (fs1.run.only.Only)

    @classmethod
    def for_job(cls, rundir: Path, experiment: Path, verbose: bool = False) -> Pipeline:
        """The pipeline a cluster job rebuilds from the run directory and the experiment alone."""
        base = recorded_origin(rundir)
        return cls(
            load_experiment(experiment, base), rundir, experiment, verbose=verbose, base=base, job=True
        )

    @property
    def remote(self) -> bool:
        """Whether heavy stages run as cluster jobs (a vLLM job then shards its model over its GPUs)."""
        return self.job or self.executor.remote

    def shard_count(self, questions: int) -> int:
        return self.exp.executor.shard_count(questions)

    def stage(self, name: str, config: dict[str, Any] | None = None, part: Part | None = None) -> Path:
        """Run stage ``name`` unless it is up to date. A heavy stage becomes jobs — one per unfinished shard —
        queued for the next ``barrier`` on a cluster executor; everything else runs here and now."""
        self.fingerprints.reads.clear()
        config = config if config is not None else config_for(self, name)
        if self.only is not None:
            return self.only.visit(self, name, config, part)
        result = self.open(name, config)
        if result.status == "skipped":
            return result.directory
        part = part or part_for(self, name)
        kind = HEAVY.get(family(name))
        remote = kind is not None and self.executor.remote
        pending = PendingStage(result, config, part, [])
        if not remote and part.count == 1:
            self.log(f"▶ {name}: {'resuming' if result.status == 'resumed' else 'running'}")
            run_piece(part, result.directory, None, self.verbose, sidecars=False)
        else:
            pending.jobs = self.jobs_for(result, part, kind)
            if remote:
                self.pending.append(pending)
                return result.directory
            for job in pending.jobs:
                self.log(f"▶ {job.label}: running")
                job.fn()
        self.finish(pending)
        return result.directory

    def open(self, name: str, config: dict[str, Any]) -> StageResult:
        """Open stage ``name`` (``markers.open_stage``); a finished stage's leftover shard files are removed."""
        result = open_stage(self.rundir, name, config, self.log, prune=self.prune)
        self.fingerprints[name] = result.fingerprint
        self.results.append(result)
        if result.status == "skipped":  # a merge interrupted after it was recorded left its shards' files
            for leftover in result.directory.iterdir():
                if SHARD_FILE.match(leftover.name) and leftover.is_file():
                    leftover.unlink()
        return result

    def jobs_for(self, result: StageResult, part: Part, kind: str | None) -> list[Job]:
        model = heavy_model(self, result.name)
        backend = model.resolved_backend() if model else None
        res = resolve_resources(self.exp.executor, kind or "default", model.model if model else None, backend)
        shards = [None] if part.count == 1 or part.stage is None else self.unfinished(result, part)
        return [
            Job(result.name, self.job_call(part, result.name, shard), res,
                shard=None if shard is None else shard.index, shards=part.count)
            for shard in shards
        ]  # fmt: skip

    def job_call(self, part: Part, name: str, shard: Shard | None) -> Callable[[], None]:
        """What a job runs: here, the part itself; on a cluster, plain data the worker rebuilds the stage from."""
        if not self.executor.remote:
            return functools.partial(
                run_piece, part, self.rundir / name, shard, self.verbose,
                seed=self.exp.seed, experiment=self.experiment_file,
            )  # fmt: skip
        index, count = (None, 1) if shard is None else (shard.index, shard.count)
        source = (
            self.rundir / EXPERIMENT_COPY
        )  # the file the worker rebuilds the stage from, unless it masks secrets
        if source.read_bytes() != self.experiment_file.read_bytes():
            source = self.experiment_file.resolve()
        digest = experiment_digest(source)
        return functools.partial(
            run_job, str(self.rundir), name, index, count, self.verbose, str(source), digest
        )

    def unfinished(self, result: StageResult, part: Part) -> list[Shard]:
        """The shards still to run: not finished, or changed after they finished (set aside, then run again)."""
        assert part.stage is not None
        out = result.directory / part.stage.output
        for stale in drop_other_counts(out, part.count):
            self.log(f"  {result.name}: shard count changed, dropped {stale.name}")
        todo = []
        for index in range(part.count):
            shard = Shard(index, part.count)
            file = shard.file(out)
            if done_path(file).exists():
                why = changed_since_done(file)
                if why is None:
                    continue
                done_path(file).unlink()
                if file.exists():
                    set_aside(self.rundir, file, why, prune=self.prune, tag="changed", log=self.log)
            todo.append(shard)
        return todo

    def finish(self, pending: PendingStage) -> None:
        """Merge a sharded stage's outputs (every key exactly once), print its line and mark the stage done; the
        shard files go only once the stage is marked done, so an interrupted merge is redone from them."""
        part, directory = pending.part, pending.result.directory
        with file_lock(directory / MERGE_LOCK):
            state = read_marker(directory) or {}
            if state.get("done") and state.get("fingerprint") == pending.result.fingerprint:
                return  # the last of its jobs merged it already (`fs1 run --only ... --shard`)
            sharded = part.stage is not None and part.count > 1
            if sharded:
                assert part.stage is not None and part.questions is not None
                out = directory / part.stage.output
                records, _ = merge(part.stage, part.settings, part.questions(), out, part.count)
                fold_shard_logs(out, part.count, directory / LOG_NAME)
                self.log(f"  {pending.result.name}: merged {part.count} shards, {records} records")
            if part.report is not None:
                part.report(directory)
            close_stage(pending.result, pending.config)
            if sharded:
                assert part.stage is not None
                remove_parts(part.stage, directory / part.stage.output, part.count)

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
        local = resolve_input(bench, self.experiment_file, self.base) if bench != "sample" else None
        return str(local) if local else bench

    def kg_spec(self) -> str | None:
        if self.exp.kg == "bundled":
            return None
        if self.exp.kg.startswith("local:"):
            target = resolve_input(self.exp.kg.removeprefix("local:"), self.experiment_file, self.base)
            return f"local:{target}"
        return self.exp.kg

    def open_kg(self) -> KG:
        """The experiment's KG; a ``sparql:`` one asked as its ``endpoint`` section says."""
        from fs1.kg import open_kg

        options = self.exp.endpoint.model_dump() if self.exp.kg.startswith("sparql:") else {}
        return open_kg(self.kg_spec(), cache_dir=self.rundir / "cache" / "kg", **options)

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
        from fs1.data import require_scorable

        questions = self.select_questions(self.exp.benchmark)
        require_scorable(questions, self.exp.benchmark)  # before hours of generation no number could count
        train = self.select_questions(self.exp.train_benchmark) if self.exp.train_benchmark else questions
        if not self.exp.train_benchmark and any(s in TRAINED_SETTINGS for s in self.exp.settings):
            self.log(
                "[yellow]note:[/] no train_benchmark: the teacher answers the evaluation questions themselves "
                "(fine for a demo; build-sft's leakage check will flag every one)"
            )
        content = {"questions": [q.to_dict() for q in questions], "train": [q.to_dict() for q in train]}

        def body(d: Path) -> None:
            write_jsonl_atomic(d / "questions.jsonl", questions)
            write_jsonl_atomic(d / "train_questions.jsonl", train)

        self.stage("benchmark", content, Part(body=body))

    def run_paths(self) -> None:
        self.stage("paths")

    def run_distill(self, mode: str) -> None:
        self.stage(f"distill/{mode}")

    def run_sft(self, student: ModelSpec, mode: str) -> None:
        self.stage(f"sft/{student.name}-{mode}")

    def run_train(self, student: ModelSpec, mode: str) -> None:
        self.stage(f"train/{student.name}-{mode}")

    def train_seed(self, student: ModelSpec, mode: str) -> int:
        from fs1.run.training import train_seed

        return train_seed(self, student, mode)

    def run_generate(self, student: ModelSpec, setting: str) -> str:
        run = f"{student.name}__{setting}"
        self.stage(f"generate/{run}")
        return run

    def run_score(self, run: str) -> Summary:
        d = self.stage(f"score/{run}")
        return load_summary(d / SUMMARY_FILE) if self.only is None else cast("Summary", {})

    def run_judge(self, run: str) -> Path:
        return self.stage(f"judge/{run}")

    def clean_stale_runs(self, runs: list[str]) -> None:
        """Move aside (``prune``: delete) fs1's generate/score/judge runs that are no longer in the experiment, so
        the report shows only current runs; a directory fs1 did not make (no marker) is left as it is."""
        for stage in ("generate", "score", "judge"):
            root = self.rundir / stage
            for child in sorted(root.iterdir()) if root.is_dir() else []:
                if child.is_dir() and child.name not in runs and (child / MARKER).exists():
                    tag = str((read_marker(child) or {}).get("fingerprint") or "unknown")
                    why = "no longer in the experiment"
                    set_aside(self.rundir, child, why, prune=self.prune, tag=tag, log=self.log)
