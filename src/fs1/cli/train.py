"""`fs1 train`: fine-tune a student on SFT traces (TRL SFTTrainer); `fs1 accelerate-config`: shipped launch configs.

A thin verb over ``fs1.train``: parse options into a ``TrainConfig``, run ``train``, print what happened. Heavy
libraries load inside the command, so ``fs1 --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, recorded, user_errors

_ADVANCED = "Advanced"
_LORA = "LoRA"


@app.command("train")
def train_command(
    data: str = typer.Option(
        ...,
        "--data",
        help="SFT data: fs1 build-sft directory, a .jsonl/.json/.parquet/.csv file, or a hub id.",
    ),
    out: Path = typer.Option(..., "--out", help="Output directory: HF model (+ checkpoints/ for resuming)."),
    model: str = typer.Option("smollm2-135m", "--model", help="Student: path, hub id, or smollm2-135m."),
    epochs: float = typer.Option(5.0, "--epochs", help="Training epochs (paper: 5)."),
    lr: float = typer.Option(1e-5, "--lr", help="Peak learning rate (paper: 1e-5)."),
    max_length: int = typer.Option(8192, "--max-length", help="Drop examples longer than this many tokens."),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after N optimizer steps (-1: all epochs)."),
    effective_batch: int = typer.Option(
        16, "--effective-batch", help="Sequences per optimizer step (paper: 16)."
    ),
    per_device_batch: int = typer.Option(
        1, "--per-device-batch", help="Sequences per device per forward pass."
    ),
    resume_from_checkpoint: str | None = typer.Option(
        None, "--resume-from-checkpoint", help="Continue from this checkpoint dir ('latest': newest in OUT)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the newest complete checkpoint in OUT, if any (else start)."
    ),
    lora: bool = typer.Option(
        False, "--lora", help="Train LoRA adapters instead of all weights.", rich_help_panel=_LORA
    ),
    merge_lora: bool = typer.Option(
        False,
        "--merge-lora",
        help="Merge the adapters into the weights before saving.",
        rich_help_panel=_LORA,
    ),
    lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank.", rich_help_panel=_LORA),
    lora_alpha: int = typer.Option(32, "--lora-alpha", help="LoRA alpha.", rich_help_panel=_LORA),
    warmup_ratio: float = typer.Option(
        0.05, "--warmup-ratio", help="Warm-up fraction.", rich_help_panel=_ADVANCED
    ),
    weight_decay: float = typer.Option(
        1e-4, "--weight-decay", help="AdamW decay.", rich_help_panel=_ADVANCED
    ),
    scheduler: str = typer.Option(
        "cosine",
        "--scheduler",
        help="cosine | linear | constant | constant_with_warmup.",
        rich_help_panel=_ADVANCED,
    ),
    packing: bool = typer.Option(
        False,
        "--packing",
        help="Pack examples into max-length blocks (padding-free).",
        rich_help_panel=_ADVANCED,
    ),
    padding_free: bool = typer.Option(
        False, "--padding-free", help="Concatenate each batch without padding.", rich_help_panel=_ADVANCED
    ),
    bf16: bool | None = typer.Option(
        None,
        "--bf16/--no-bf16",
        help="bf16 mixed precision (default: where the GPU has it).",
        rich_help_panel=_ADVANCED,
    ),
    gradient_checkpointing: bool | None = typer.Option(
        None,
        "--gradient-checkpointing/--no-gradient-checkpointing",
        help="Recompute activations (default: on with a GPU).",
        rich_help_panel=_ADVANCED,
    ),
    filter_check: bool = typer.Option(
        True,
        "--filter-check/--no-filter-check",
        help="Require label/valid columns; keep label==1, valid==1.",
        rich_help_panel=_ADVANCED,
    ),
    save_steps: int = typer.Option(
        500, "--save-steps", help="Checkpoint every N steps.", rich_help_panel=_ADVANCED
    ),
    logging_steps: int = typer.Option(
        10, "--logging-steps", help="Log every N steps.", rich_help_panel=_ADVANCED
    ),
    seed: int = typer.Option(
        0, "--seed", help="Random seed (data order, initialisation).", rich_help_panel=_ADVANCED
    ),
    attn_implementation: str | None = typer.Option(
        None, "--attn-implementation", help="sdpa | eager | flash_attention_2.", rich_help_panel=_ADVANCED
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a model already in OUT."),
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
        from fs1.train import TrainConfig, train
        from fs1.train.progress import QUIET_TRAINER_ARGS

        cfg = TrainConfig(
            data=data,
            model=model,
            out=str(out),
            epochs=epochs,
            learning_rate=lr,
            max_length=max_length,
            max_steps=max_steps,
            effective_batch=effective_batch,
            per_device_batch=per_device_batch,
            resume_from_checkpoint="latest"
            if resume and not resume_from_checkpoint
            else resume_from_checkpoint,
            lora=lora,
            merge_lora=merge_lora,
            lora_r=lora_r,
            lora_alpha=lora_alpha,
            warmup_ratio=warmup_ratio,
            weight_decay=weight_decay,
            lr_scheduler=scheduler,
            packing=packing,
            padding_free=padding_free,
            bf16=bf16,
            gradient_checkpointing=gradient_checkpointing,
            filter_check=filter_check,
            save_steps=save_steps,
            logging_steps=logging_steps,
            seed=seed,
            attn_implementation=attn_implementation,
            overwrite=overwrite,
            extra_args={} if verbose else dict(QUIET_TRAINER_ARGS),
        )
        from fs1.manifest import MANIFEST_NAME
        from fs1.train.progress import TrainProgress

        manifest, log = out / MANIFEST_NAME, out / "log.txt"
        with recorded(manifest, log, seed=seed, inputs={"data": data}, verbose=verbose):
            result = train(cfg, callbacks=None if verbose else [TrainProgress(out.name)])
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
