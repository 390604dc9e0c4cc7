"""The stages of a run that fine-tune a student on traces: ``sft/<student>-<mode>`` (the SFT set, light) and
``train/<student>-<mode>`` (heavy: a job of its own on a cluster). Both fill their stage directory as a whole."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs1.run.stages import Part
from fs1.seeding import derive_seed

if TYPE_CHECKING:
    from fs1.run.config import ModelSpec
    from fs1.run.pipeline import Pipeline


def train_seed(pipe: Pipeline, student: ModelSpec, mode: str) -> int:
    """The seed of one fine-tuning run (data order, initialisation of adapters, dropout)."""
    return derive_seed(pipe.exp.seed, "train", student.name, mode)


def sft_config(pipe: Pipeline, student: ModelSpec, mode: str) -> dict[str, Any]:
    return {
        "traces": pipe.fingerprints[f"distill/{mode}"],
        "student": student.model,
        "max_length": pipe.exp.train.max_length,
        "benchmark": pipe.fingerprints["benchmark"],
    }


def sft_part(pipe: Pipeline, student: ModelSpec, mode: str) -> Part:
    def body(d: Path) -> None:
        from fs1.distill.sft import build_sft_dataset

        stats = build_sft_dataset(
            [pipe.rundir / "distill" / mode / "traces.jsonl"],
            student.model,
            d / "dataset",
            max_length=pipe.exp.train.max_length,
            benchmark=pipe.questions(),
            overwrite=True,
        )
        counts = f"({stats.correct} correct, {stats.valid} well-formed)"
        if pipe.exp.train.filter_check:
            pipe.log(f"  SFT set {student.name}-{mode}: {stats.kept} of {stats.traces} traces kept {counts}")
        else:  # the paper's filter is off: training reads every answered trace, not the filtered split
            pipe.log(
                f"  SFT set {student.name}-{mode}: {stats.traces} traces {counts}; filter_check is off, so "
                "training uses every trace with an answer"
            )

    return Part(body=body)


def train_config(pipe: Pipeline, student: ModelSpec, mode: str) -> dict[str, Any]:
    return {
        "sft": pipe.fingerprints[f"sft/{student.name}-{mode}"],
        "student": student.model,
        "train": pipe.exp.train.model_dump(exclude={"seed"}),
        "seed": train_seed(pipe, student, mode),
    }


def train_part(pipe: Pipeline, student: ModelSpec, mode: str) -> Part:
    label = f"{student.name}-{mode}"

    def body(d: Path) -> None:
        from fs1.train import TrainConfig, train
        from fs1.train.progress import QUIET_TRAINER_ARGS, TrainProgress

        if _finished_model(d / "model"):  # trained, then killed before the stage was closed: keep it
            pipe.log(f"  {label}: the model in {d / 'model'} is complete; not training again")
            return
        tr = pipe.exp.train
        data = pipe.rundir / "sft" / label / "dataset"
        if not tr.filter_check:  # every trace, correct or not; those without an answer skipped (and counted)
            data = data / "full"
        checkpoints = d / "model" / "checkpoints"
        run_owned = {
            "data": str(data),
            "model": student.model,
            "out": str(d / "model"),
            "merge_lora": tr.merge_lora or tr.use_peft,  # the run evaluates plain checkpoints
            "resume_from_checkpoint": "latest" if any(checkpoints.glob("checkpoint-*")) else None,
            "overwrite": True,
            "save_steps": tr.max_steps if tr.max_steps > 0 else tr.save_steps,
            "seed": train_seed(pipe, student, mode),
            "extra_args": {} if pipe.verbose else dict(QUIET_TRAINER_ARGS),
        }
        cfg = TrainConfig(**tr.model_dump() | run_owned)
        result = train(cfg, callbacks=None if pipe.verbose else [TrainProgress(label)])
        if not tr.filter_check:
            skipped = result.dropped.get("unanswered", 0)
            pipe.log(
                f"  {label}: {result.examples} answered traces (filter off); {skipped} without an answer skipped"
            )
        pipe.log(f"  trained {label}: {result.global_step} steps, loss {result.train_loss}")

    return Part(body=body)


def _finished_model(model_dir: Path) -> bool:
    """A finished ``fs1 train`` output: its summary and config are moved in last, the config very last."""
    from fs1.train.output import SUMMARY_FILE as TRAIN_SUMMARY

    return (model_dir / TRAIN_SUMMARY).exists() and (model_dir / "config.json").exists()
