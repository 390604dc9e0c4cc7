"""The stages of one experiment, in order, each resumable (see ``stage.py``):

benchmark → paths → distill/{rt,fs1} → sft/<student>-<mode> → train/<student>-<mode> → generate/<run> → score/<run>
(→ judge/<run>) → results.parquet → report.html, where ``<run>`` is ``<student>__<setting>``.

instruct and cot runs use the base student; rt and fs1 runs use the student fine-tuned on rt or fs1 traces, with
the s1 think/answer format and budget forcing when budgets are given.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fs1.io import JsonlAppender, completed_keys, read_records, write_json_atomic, write_jsonl_atomic
from fs1.records import PathRecord, Question
from fs1.run.config import Experiment, ModelSpec, resolve_input
from fs1.run.stage import StageResult, run_stage
from fs1.seeding import derive_seed

TRAINED_SETTINGS = ("rt", "fs1")
# Bumped when the score summary gains fields, so runs scored before are scored again (cheap) on resume.
SCORE_METRICS_VERSION = 2
# What an instruct/cot run depends on: budget-forcing fields change only the rt/fs1 runs.
UNFORCED_FIELDS = {"n", "max_tokens"}
Log = Callable[[str], None]


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

    def stage(self, name: str, config: dict[str, Any], work: Callable[[Path], None]) -> Path:
        result = run_stage(self.rundir, name, config, work, self.log, verbose=self.verbose)
        self.fingerprints[name] = result.fingerprint
        self.results.append(result)
        return result.directory

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

    def run_paths(self) -> None:
        config = {
            "benchmark": self.fingerprints["benchmark"],
            "kg": self.exp.kg,
            "max_hops": self.exp.max_hops,
        }

        def work(d: Path) -> None:
            from fs1.kg import find_paths, open_kg

            out = d / "paths.jsonl"
            done = completed_keys(out, lambda row: str(row["ID"]))
            todo = [q for q in self.train_questions() if q.ID not in done]
            kg = open_kg(self.kg_spec(), cache_dir=self.rundir / "cache" / "kg")
            with JsonlAppender(out) as sink:
                for record in find_paths(kg, todo, max_hops=self.exp.max_hops):
                    sink.write(record)

        self.stage("paths", config, work)

    def run_distill(self, mode: str) -> None:
        t = self.exp.teacher
        config = {
            "benchmark": self.fingerprints["benchmark"],
            "teacher": t.model_dump(),
            "mode": mode,
            "seed": self.exp.seed,
        }
        if mode == "fs1":
            config["paths"] = self.fingerprints["paths"]

        def work(d: Path) -> None:
            from fs1.distill import DistillConfig, run_distillation

            paths = None
            if mode == "fs1":
                records = read_records(self.rundir / "paths" / "paths.jsonl", PathRecord)
                paths = {r.ID: r for r in records}
            dc = DistillConfig(
                mode=mode,
                teacher=t.model,
                backend=t.backend,
                base_url=t.base_url,
                tokenizer=t.tokenizer,
                samples=t.samples,
                no_path=t.no_path,
                concurrency=t.concurrency,
                batch_size=t.batch_size,
                max_tokens=t.max_tokens,
                temperature=t.temperature,
                seed=self.exp.seed,
                backend_options=t.options,
            )
            summary = run_distillation(
                self.train_questions(), dc, d / "traces.jsonl", paths=paths, resume=True
            )
            s = summary.to_dict()
            self.log(
                f"  {mode} traces: {s['file_traces']} in file ({s['file_correct']} correct, {s['file_valid']} "
                f"well-formed), {s['written']} written now in {s['wall_s']:.0f} s"
                + (f"; note: {s['note']}" if s.get("note") else "")
            )

        self.stage(f"distill/{mode}", config, work)

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
            self.log(
                f"  SFT set {student.name}-{mode}: {stats.kept} of {stats.traces} traces kept "
                f"({stats.correct} correct, {stats.valid} well-formed)"
            )

        self.stage(name, config, work)

    def run_train(self, student: ModelSpec, mode: str) -> None:
        tr = self.exp.train
        config = {
            "sft": self.fingerprints[f"sft/{student.name}-{mode}"],
            "student": student.model,
            "train": tr.model_dump(),
            "seed": self.train_seed(student, mode),
        }

        def work(d: Path) -> None:
            from fs1.train import TrainConfig, train
            from fs1.train.progress import QUIET_TRAINER_ARGS, TrainProgress

            data = self.rundir / "sft" / f"{student.name}-{mode}" / "dataset"
            if not tr.require_correct:
                data = answered_traces(data / "full", d / "answered.parquet")
            checkpoints = d / "model" / "checkpoints"
            resume = "latest" if any(checkpoints.glob("checkpoint-*")) else None
            cfg = TrainConfig(
                data=str(data),
                model=student.model,
                out=str(d / "model"),
                epochs=tr.epochs,
                learning_rate=tr.lr,
                max_length=tr.max_length,
                max_steps=tr.max_steps or -1,
                per_device_batch=tr.batch_size,
                effective_batch=tr.batch_size * tr.grad_accum,
                lora=tr.lora,
                merge_lora=tr.lora,
                filter_check=tr.require_correct,
                resume_from_checkpoint=resume,
                overwrite=True,
                save_steps=max(1, tr.max_steps or 500),
                seed=self.train_seed(student, mode),
                extra_args={} if self.verbose else dict(QUIET_TRAINER_ARGS),
            )
            result = train(cfg, callbacks=None if self.verbose else [TrainProgress(f"{student.name}-{mode}")])
            self.log(f"  trained {student.name}-{mode}: {result.global_step} steps, loss {result.train_loss}")

        self.stage(f"train/{student.name}-{mode}", config, work)

    def train_seed(self, student: ModelSpec, mode: str) -> int:
        """The seed of one fine-tuning run (data order, initialisation of adapters, dropout)."""
        return derive_seed(self.exp.seed, "train", student.name, mode)

    def model_for(self, student: ModelSpec, setting: str) -> tuple[str, str]:
        """(model path or id, backend) that a run of ``setting`` generates with."""
        if setting in TRAINED_SETTINGS:
            path = self.rundir / "train" / f"{student.name}-{setting}" / "model"
            backend = "transformers" if student.backend == "llamacpp" else student.backend
            return str(path), backend
        return student.model, student.backend

    def run_generate(self, student: ModelSpec, setting: str) -> str:
        run = f"{student.name}__{setting}"
        g = self.exp.generation
        model, backend = self.model_for(student, setting)
        budgets = list(g.budgets) if setting in TRAINED_SETTINGS else []
        config = {
            "benchmark": self.fingerprints["benchmark"],
            "student": student.model_dump(),
            "setting": setting,
            "generation": g.model_dump(include=None if setting in TRAINED_SETTINGS else UNFORCED_FIELDS),
            "budgets": budgets,
            "seed": self.exp.seed,
        }
        if setting in TRAINED_SETTINGS:
            config["model"] = self.fingerprints[f"train/{student.name}-{setting}"]

        def work(d: Path) -> None:
            from fs1.run.generation import generate_run

            meta = {
                "model": student.name,
                "setting": setting,
                "backend": backend,
                "model_path": model,
                "budgets": budgets,
                "n": g.n,
            }
            write_json_atomic(d / "run.json", meta)
            generate_run(
                self.questions(),
                run,
                model,
                backend,
                setting,
                g,
                budgets,
                d / "predictions.jsonl",
                seed=self.exp.seed,
                base_url=student.base_url,
                tokenizer=student.tokenizer,
                **student.options,
            )

        self.stage(f"generate/{run}", config, work)
        return run

    def run_score(self, run: str) -> dict[str, Any]:
        config = {
            "generate": self.fingerprints[f"generate/{run}"],
            "ks": self.exp.ks,
            "seed": self.exp.seed,
            "metrics": SCORE_METRICS_VERSION,
        }

        def work(d: Path) -> None:
            from fs1.scoring import score_file

            by_id = {q.ID: q for q in self.questions()}
            score_file(
                self.rundir / "generate" / run / "predictions.jsonl",
                by_id,
                d,
                ks=self.exp.ks,
                seed=self.exp.seed,
            )

        d = self.stage(f"score/{run}", config, work)
        return json.loads((d / "summary.json").read_text())

    def clean_stale_runs(self, runs: list[str]) -> None:
        """Drop generate/score dirs of runs no longer in the experiment, so the report shows only current runs."""
        for stage in ("generate", "score", "judge"):
            root = self.rundir / stage
            if root.is_dir():
                for child in root.iterdir():
                    if child.is_dir() and child.name not in runs:
                        shutil.rmtree(child)


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
