"""`fs1 train`: fine-tune a student on SFT traces (TRL SFTTrainer); `fs1 accelerate-config`: shipped launch configs.

A thin verb over ``fs1.train``: parse options into a ``TrainConfig``, run ``train``, print what happened. Heavy
libraries load inside the command, so ``fs1 --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, recorded, user_errors
from fs1.cli.schema import schema_options
from fs1.train.config import TrainConfig

_ADVANCED = "Advanced"
_LORA = "LoRA"


_LORA_FIELDS = ("use_peft", "merge_lora", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
_ADVANCED_FIELDS = (
    "warmup_ratio", "weight_decay", "adam_beta1", "adam_beta2", "lr_scheduler_type", "packing", "padding_free", "bf16",
    "gradient_checkpointing", "filter_check", "save_steps", "save_total_limit", "keep_checkpoints", "logging_steps", "seed",
    "attn_implementation", "dtype", "world_size",
)  # fmt: skip


@app.command("train")
@schema_options(
    TrainConfig,
    exclude=("extra_args",),
    panels={**dict.fromkeys(_LORA_FIELDS, _LORA), **dict.fromkeys(_ADVANCED_FIELDS, _ADVANCED)},
)
def train_command(
    config: TrainConfig,
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the newest complete checkpoint in OUT, if any (else start)."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Show library output too (always kept in OUT/log.txt)."
    ),
) -> None:
    """Fine-tune a student on reasoning traces (s1 recipe: completion-only loss on the assistant turn).

    Defaults are the paper's: lr 1e-5, 5 epochs, max length 8192, warm-up 0.05, weight decay 1e-4, Adam betas
    (0.9, 0.95), effective batch 16, cosine schedule, bf16 and gradient checkpointing on a GPU. OUT becomes a
    standard Hugging Face model directory that `fs1 generate --backend transformers --model OUT` loads. For several
    GPUs or nodes run it under `accelerate launch` with `fs1 accelerate-config fsdp_full_shard` (docs/training.md).
    """
    with user_errors():
        from fs1.manifest import MANIFEST_NAME
        from fs1.train import train
        from fs1.train.progress import QUIET_TRAINER_ARGS, TrainProgress

        if resume and not config.resume_from_checkpoint:
            config = config.model_copy(update={"resume_from_checkpoint": "latest"})
        if not verbose:
            config = config.model_copy(update={"extra_args": dict(QUIET_TRAINER_ARGS)})
        out = Path(config.out)
        manifest, log = out / MANIFEST_NAME, out / "log.txt"
        with recorded(manifest, log, seed=config.seed, inputs={"data": config.data}, verbose=verbose):
            result = train(config, callbacks=None if verbose else [TrainProgress(out.name)])
    if result.dropped.get("unanswered"):
        console.print(
            f"skipped {result.dropped['unanswered']} trace(s) without an answer (--no-filter-check)"
        )
    last = f"{result.losses[-1][1]:.4f}" if result.losses else "n/a"
    console.print(
        f"[bold green]trained[/] {result.examples} examples, steps {result.start_step} → {result.global_step}, "
        f"last loss {last}, {result.tokens_per_second:.0f} tokens/s; model in {result.out_dir}"
    )


@app.command("accelerate-config")
def accelerate_config_command(
    name: str = typer.Argument(..., help="fsdp_full_shard | deepspeed_zero3"),
) -> None:
    """Print the path of a shipped accelerate config, for `accelerate launch --config_file ...` (docs/training.md)."""
    with user_errors():
        from fs1.train import accelerate_config

        typer.echo(str(accelerate_config(name)))
