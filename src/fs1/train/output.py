"""The output of `fs1 train`: a standard Hugging Face model directory, written so that a crash leaves no half model.

Layout of ``out/``: weights (or LoRA adapters), tokenizer with its chat template, ``generation_config.json``,
``training_args.json`` (the full TRL/transformers arguments), ``fs1_train.json`` (fs1 config, data statistics and
result), ``README.md`` (model card naming data and hyper-parameters), and ``checkpoints/`` for resuming while the run is
unfinished (deleted once the model is saved unless ``keep_checkpoints``: the optimizer state makes each checkpoint about
three times the model). Everything is saved into a staging folder first and moved in file by file, the config that makes
it loadable last.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs1.io import InputError, honour_umask, write_json_atomic

if TYPE_CHECKING:
    from fs1.train.config import TrainConfig
    from fs1.train.data import PreparedData

CHECKPOINTS_DIR = "checkpoints"
SUMMARY_FILE = "fs1_train.json"
_STAGING_DIR = ".staging"
# Files whose presence makes a directory loadable; moved in last.
_LOADABLE_MARKERS = ("config.json", "adapter_config.json")
_WEIGHT_PATTERNS = (*_LOADABLE_MARKERS, "*.safetensors", "*.safetensors.index.json", "*.bin")


@dataclass
class TrainResult:
    """What a training run did."""

    out_dir: str
    global_step: int
    start_step: int
    train_loss: float | None
    losses: list[tuple[int, float]] = field(default_factory=list)
    runtime_s: float = 0.0
    trained_tokens: int = 0
    examples: int = 0
    loss_tokens: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # rows left out, by reason (fs1.train.data.prepare)

    @property
    def steps_this_run(self) -> int:
        return self.global_step - self.start_step

    @property
    def tokens_per_second(self) -> float:
        return self.trained_tokens / self.runtime_s if self.runtime_s > 0 else 0.0


def refuse_existing_model(out: Path, *, overwrite: bool) -> None:
    """Stop before training if ``out`` already holds a finished model (unless overwriting or resuming)."""
    if overwrite or not out.exists():
        return
    present = [name for name in (*_LOADABLE_MARKERS, SUMMARY_FILE) if (out / name).exists()]
    if present:
        raise InputError(
            f"{out}: already holds a trained model ({', '.join(present)}); "
            "pass --overwrite to replace it or --resume to continue its training"
        )


def finalize(
    trainer: Any, tokenizer: Any, cfg: TrainConfig, prepared: PreparedData, result: TrainResult
) -> None:
    """Save the trained model (LoRA adapters merged on request), tokenizer, arguments, summary and card into ``out``."""
    out = Path(cfg.out)
    staging = out / _STAGING_DIR
    main = trainer.accelerator.is_main_process
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    model = trainer.accelerator.unwrap_model(trainer.model)
    # Training turns the KV cache off; the saved model is for generation, where the cache is wanted.
    model.config.use_cache = True
    if cfg.lora and cfg.merge_lora:
        if main:
            model.merge_and_unload().save_pretrained(staging)
    else:
        trainer.save_model(str(staging))  # gathers FSDP/DeepSpeed shards; adapters only for unmerged LoRA
    if main:
        tokenizer.save_pretrained(staging)
        (staging / "training_args.json").write_text(trainer.args.to_json_string(), encoding="utf-8")
        summary = summary_dict(cfg, prepared, result)
        write_json_atomic(staging / SUMMARY_FILE, summary)
        (staging / "README.md").write_text(model_card(cfg, prepared, result), encoding="utf-8")
        honour_umask(staging)  # safetensors writes the weights 0600
        _move_in(staging, out)
        if not cfg.keep_checkpoints:
            # Only after the model is in place: a crash before this point can still resume from them.
            shutil.rmtree(out / CHECKPOINTS_DIR, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()


def checkpoint_modes() -> Any:
    """A ``TrainerCallback`` that gives each saved checkpoint the umask's modes (safetensors writes weights 0600)."""
    from transformers import TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    class CheckpointModes(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                honour_umask(folder)

    return CheckpointModes()


def _move_in(staging: Path, out: Path) -> None:
    """Move every staged file into ``out`` (atomic renames), the loadable markers last, then drop the staging dir."""
    files = [p for p in staging.iterdir() if p.is_file()]
    files.sort(key=lambda p: p.name in _LOADABLE_MARKERS)
    # Weights of a replaced model (other shard count, adapters vs merged) must not linger next to the new ones.
    # An old config goes first, so the directory is not loadable while old and new files are mixed.
    staged = {p.name for p in files}
    for pattern in _WEIGHT_PATTERNS:
        for stale in out.glob(pattern):
            if stale.is_file() and (stale.name not in staged or stale.name in _LOADABLE_MARKERS):
                stale.unlink()
    for path in files:
        os.replace(path, out / path.name)
    shutil.rmtree(staging, ignore_errors=True)


def summary_dict(cfg: TrainConfig, prepared: PreparedData, result: TrainResult) -> dict[str, Any]:
    """fs1's own record of the run: config, data statistics and result (``fs1_train.json``)."""
    return {
        "config": cfg.to_dict(),
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps(),
        "data": {
            "source": prepared.source,
            "rows": prepared.total_rows,
            "examples": len(prepared.examples),
            "dropped": prepared.dropped,
            "prompt_tokens": prepared.prompt_tokens,
            "completion_tokens": prepared.completion_tokens,
        },
        "result": {
            "global_step": result.global_step,
            "start_step": result.start_step,
            "train_loss": result.train_loss,
            "losses": result.losses,
            "runtime_s": round(result.runtime_s, 3),
            "trained_tokens": result.trained_tokens,
            "loss_tokens": result.loss_tokens,
        },
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            continue
    return out


def model_card(cfg: TrainConfig, prepared: PreparedData, result: TrainResult) -> str:
    """A short model card (README.md with YAML front matter) naming the base model, data and hyper-parameters."""
    kind = "LoRA adapters (PEFT)" if cfg.lora and not cfg.merge_lora else "full weights"
    hyper = {
        "learning rate": cfg.learning_rate,
        "epochs": cfg.epochs,
        "max steps": cfg.max_steps,
        "max length (tokens)": cfg.max_length,
        "effective batch": cfg.effective_batch,
        "per-device batch": cfg.per_device_batch,
        "gradient accumulation": cfg.gradient_accumulation_steps(),
        "warm-up ratio": cfg.warmup_ratio,
        "weight decay": cfg.weight_decay,
        "Adam betas": f"({cfg.adam_beta1}, {cfg.adam_beta2})",
        "schedule": cfg.lr_scheduler,
        "packing": cfg.packing,
        "LoRA": f"r={cfg.lora_r}, alpha={cfg.lora_alpha}, merged={cfg.merge_lora}" if cfg.lora else "no",
        "seed": cfg.seed,
    }
    rows = "\n".join(f"| {k} | {v} |" for k, v in hyper.items())
    dropped = ", ".join(f"{n} {why}" for why, n in prepared.dropped.items() if n) or "none"
    last_loss = result.losses[-1][1] if result.losses else None
    from fs1.backends.embedded import SHORT_NAMES

    return f"""---
base_model: {SHORT_NAMES.get(cfg.model, cfg.model)}
library_name: transformers
tags: [fs1, sft, trl, reasoning, factuality]
---

# {Path(cfg.out).name}

Fine-tuned from `{cfg.model}` ({kind}) with `fs1 train` (TRL SFTTrainer, completion-only loss on the assistant
turn), following the s1/fs1 recipe of *Scaling Reasoning can Improve Factuality in Large Language Models*
(arXiv 2505.11140).

## Data

- source: `{prepared.source}`
- rows read: {prepared.total_rows}; examples trained on: {len(prepared.examples)}; dropped: {dropped}
- tokens: {prepared.prompt_tokens} prompt, {prepared.completion_tokens} completion (loss on the completion only)

## Hyper-parameters

| setting | value |
| --- | --- |
{rows}

## Result

- optimizer steps: {result.global_step} (this run: {result.steps_this_run}); last logged loss: {last_loss}
- training time: {result.runtime_s:.1f} s

## Use

`fs1 generate --backend transformers --model {cfg.out} ...`, or `AutoModelForCausalLM.from_pretrained("{cfg.out}")`.
Full arguments: `training_args.json`; fs1 config and data statistics: `{SUMMARY_FILE}`.
"""
