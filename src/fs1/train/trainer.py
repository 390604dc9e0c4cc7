"""Fine-tuning a student on SFT traces with TRL's ``SFTTrainer`` (prompt/completion data, completion-only loss).

``train(config)`` is the whole stage: load and filter the data, split every example at the assistant turn with the
student's chat template, build the trainer with the paper's hyper-parameters, check that the loss mask the trainer
will use covers exactly the assistant tokens, train (resuming from a checkpoint on request), and write a standard
Hugging Face model directory (``fs1.train.output``). Runs unchanged under ``accelerate launch`` (FSDP, DeepSpeed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fs1.errors import InputError
from fs1.train import data as sft_data
from fs1.train.chat import ChatFormat
from fs1.train.config import LORA_ALL_LINEAR, TrainConfig
from fs1.train.output import CHECKPOINTS_DIR, TrainResult, checkpoint_modes, finalize, refuse_existing_model

IGNORE_INDEX = -100  # label value TRL/transformers skip in the loss


class LossMaskError(InputError):
    """The labels the trainer would use do not cover exactly the assistant part."""


def hardware() -> dict[str, bool]:
    """Whether a CUDA GPU is present and supports bf16 (the recipe's defaults switch on these)."""
    import torch

    cuda = torch.cuda.is_available()
    return {"cuda": cuda, "bf16": bool(cuda and torch.cuda.is_bf16_supported())}


def resolve_model(model: str) -> str:
    """Map fs1 short names (``smollm2-135m``) to a local checkpoint; paths and hub ids pass through."""
    from fs1.backends.embedded import resolve_for_transformers

    return resolve_for_transformers(model)


def sft_config(cfg: TrainConfig, *, eos_token: str | None = None) -> Any:
    """The TRL ``SFTConfig`` for this run: paper hyper-parameters, hardware-dependent precision, completion loss."""
    from trl import SFTConfig

    hw = hardware()
    bf16 = hw["bf16"] if cfg.bf16 is None else cfg.bf16
    checkpointing = hw["cuda"] if cfg.gradient_checkpointing is None else cfg.gradient_checkpointing
    init_kwargs: dict[str, Any] = {"dtype": cfg.dtype}
    if cfg.attn_implementation:
        init_kwargs["attn_implementation"] = cfg.attn_implementation
    kwargs: dict[str, Any] = dict(
        output_dir=str(Path(cfg.out) / CHECKPOINTS_DIR),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio of the total steps (transformers >= 5)
        weight_decay=cfg.weight_decay,
        adam_beta1=cfg.adam_beta1,
        adam_beta2=cfg.adam_beta2,
        per_device_train_batch_size=cfg.per_device_batch,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps(),
        bf16=bf16,
        **{checkpointing_argument(SFTConfig): checkpointing},
        dataloader_pin_memory=hw["cuda"],  # pinning needs an accelerator; on a CPU it only warns
        # Examples longer than max_length were dropped already; padding-free without packing refuses a max_length.
        max_length=None if cfg.padding_free else cfg.max_length,
        packing=cfg.packing,
        padding_free=cfg.padding_free,
        completion_only_loss=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        report_to="none",
        seed=cfg.seed,
        model_init_kwargs=init_kwargs,
        eos_token=eos_token,
    )
    kwargs.update(cfg.extra_args)
    return SFTConfig(**kwargs)


def checkpointing_argument(config_class: Any) -> str:
    """The current name of the activation-checkpointing switch (transformers renamed ``gradient_checkpointing``)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_class)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def lora_config(cfg: TrainConfig) -> Any:
    """PEFT LoRA adapters on every linear layer (or the named modules), never on the output head."""
    from peft import LoraConfig

    targets: str | list[str] = cfg.lora_target
    if cfg.lora_target != LORA_ALL_LINEAR:
        targets = [t.strip() for t in cfg.lora_target.split(",") if t.strip()]
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def load_tokenizer(model_path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


def prepare_data(cfg: TrainConfig, tokenizer: Any) -> tuple[ChatFormat, sft_data.PreparedData]:
    """Load, check, filter and split the SFT data for this student's chat template."""
    chat = ChatFormat.from_tokenizer(tokenizer)
    rows = sft_data.load_rows(cfg.data)
    prepared = sft_data.prepare(rows, chat, max_length=cfg.max_length, filter_check=cfg.filter_check)
    return chat, prepared


def build_trainer(
    cfg: TrainConfig,
    prepared: sft_data.PreparedData,
    tokenizer: Any,
    chat: ChatFormat,
    callbacks: list[Any] | None = None,
) -> Any:
    """An ``SFTTrainer`` over the prepared prompt/completion examples."""
    from trl import SFTTrainer

    # Tell TRL the end-of-turn token when it is not the tokenizer's EOS, so generation stops where training did.
    eos = chat.end_of_turn if chat.end_of_turn != tokenizer.eos_token else None
    return SFTTrainer(
        model=resolve_model(cfg.model),
        args=sft_config(cfg, eos_token=eos),
        train_dataset=sft_data.to_dataset(prepared),
        processing_class=tokenizer,
        peft_config=lora_config(cfg) if cfg.lora else None,
        callbacks=[*(callbacks or []), checkpoint_modes()],
    )


def verify_loss_mask(train_dataset: Any, prepared: sft_data.PreparedData, *, packed: bool) -> int:
    """Check the labels the trainer will use: non-empty, and exactly the completion tokens of each example.

    Returns the number of tokens that carry loss. Unpacked data is checked example by example (prompt positions
    ignored, completion positions equal to the input ids); packed data by the total.
    """
    rows = train_dataset.with_format(None)
    expected = prepared.completion_lengths
    if not packed and len(rows) != len(expected):
        raise LossMaskError(
            f"the trainer kept {len(rows)} of {len(expected)} examples (some lost all loss tokens)"
        )
    total = 0
    for index, row in enumerate(rows):
        labels, ids = row["labels"], row["input_ids"]
        carried = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
        total += len(carried)
        if packed:
            continue
        start = len(ids) - expected[index]
        if not carried or carried != list(range(start, len(ids))) or labels[start:] != ids[start:]:
            example_id = prepared.examples[index]["id"]
            raise LossMaskError(
                f"example {example_id}: the loss covers {len(carried)} tokens, expected exactly the "
                f"{expected[index]} assistant tokens at the end"
            )
    if total == 0:
        raise LossMaskError("the loss mask is empty: no token of the training data carries loss")
    if packed and total != sum(expected):
        raise LossMaskError(f"packed data carries loss on {total} tokens, expected {sum(expected)}")
    return total


def checkpoint_to_resume(cfg: TrainConfig) -> str | None:
    """The checkpoint to resume from: an explicit path (must be complete), or the newest complete one for ``'latest'``
    (None when there is none yet)."""
    if not cfg.resume_from_checkpoint:
        return None
    if cfg.resume_from_checkpoint != "latest":
        path = Path(cfg.resume_from_checkpoint)
        if _checkpoint_step(str(path)) is None:
            raise FileNotFoundError(
                f"{path}: not a complete training checkpoint (no readable trainer_state.json)"
            )
        return str(path)
    # 'latest' with nothing saved yet starts from scratch, so one command serves first launches and requeues.
    last = latest_complete_checkpoint(Path(cfg.out) / CHECKPOINTS_DIR)
    return str(last) if last is not None else None


def latest_complete_checkpoint(folder: Path) -> Path | None:
    """The highest-step ``checkpoint-N`` whose trainer state was written.

    transformers writes ``trainer_state.json`` last, so a run killed while saving leaves a newer checkpoint without
    it (or with a torn one); resuming then falls back to the previous, complete checkpoint.
    """
    if not folder.is_dir():
        return None
    steps = []
    for path in folder.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if path.is_dir() and suffix.isdigit() and _checkpoint_step(str(path)) is not None:
            steps.append((int(suffix), path))
    return max(steps)[1] if steps else None


def train(cfg: TrainConfig, callbacks: list[Any] | None = None) -> TrainResult:
    """Run the whole stage for one config; returns what was trained and where it was written.

    ``callbacks`` are transformers ``TrainerCallback`` objects (benchmarks use one to time steps).
    """
    resume = checkpoint_to_resume(cfg)
    refuse_existing_model(Path(cfg.out), overwrite=cfg.overwrite or resume is not None)
    tokenizer = load_tokenizer(resolve_model(cfg.model))
    chat, prepared = prepare_data(cfg, tokenizer)
    trainer = build_trainer(cfg, prepared, tokenizer, chat, callbacks)
    loss_tokens = verify_loss_mask(trainer.train_dataset, prepared, packed=cfg.packing)
    start_step = _checkpoint_step(resume) or 0
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume)
    runtime = time.perf_counter() - started
    history = trainer.state.log_history
    result = TrainResult(
        out_dir=str(cfg.out),
        global_step=trainer.state.global_step,
        start_step=start_step,
        train_loss=getattr(output, "training_loss", None),
        losses=[(int(h["step"]), float(h["loss"])) for h in history if "loss" in h],
        runtime_s=runtime,
        trained_tokens=int(getattr(trainer, "_total_train_tokens", 0)),
        examples=len(prepared.examples),
        loss_tokens=loss_tokens,
        dropped=dict(prepared.dropped),
    )
    finalize(trainer, tokenizer, cfg, prepared, result)
    return result


def _checkpoint_step(checkpoint: str | None) -> int | None:
    """The global step saved in a checkpoint's trainer state; None if it is missing or torn."""
    if checkpoint is None:
        return None
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
        return int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
