"""The fine-tuning configuration (`TrainConfig`): the s1/fs1 recipe's hyper-parameters as defaults (protocol §2).

A plain dataclass, validated on construction, so the GPU check can use it on machines without pydantic.
Hardware-dependent switches (bf16, gradient checkpointing) default to ``None`` = decide from the hardware.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from fs1.seeding import DEFAULT_SEED

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
# PEFT's shorthand for "every linear layer except the output head".
LORA_ALL_LINEAR = "all-linear"


def _doc(text: str, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field carrying a one-line description (shown by ``TrainConfig.describe``)."""
    return field(default=default, metadata={"doc": text})


@dataclass
class TrainConfig:
    """Everything one ``fs1 train`` run needs; defaults are the paper's (protocol §2)."""

    data: str = _doc(
        "SFT data: a dataset directory (fs1 build-sft), a .jsonl/.json/.parquet/.csv file, or a hub id."
    )
    model: str = _doc("Student model: a path, a hub id, or a short name such as smollm2-135m.")
    out: str = _doc("Output directory: the trained model (HF layout) plus checkpoints/ for resuming.")
    epochs: float = _doc("Training epochs.", 5.0)
    learning_rate: float = _doc("Peak learning rate.", 1e-5)
    max_length: int = _doc(
        "Longest example in tokens; longer ones are dropped (paper: 8192), not truncated.", 8192
    )
    warmup_ratio: float = _doc("Fraction of steps spent warming the learning rate up.", 0.05)
    weight_decay: float = _doc("AdamW weight decay.", 1e-4)
    adam_beta1: float = _doc("AdamW beta1.", 0.9)
    adam_beta2: float = _doc("AdamW beta2.", 0.95)
    lr_scheduler: str = _doc(
        "Learning-rate schedule (cosine is the s1 choice; unconfirmed for fs1).", "cosine"
    )
    effective_batch: int = _doc("Sequences per optimizer step over all devices (paper: 16).", 16)
    per_device_batch: int = _doc("Sequences per device per forward pass (paper: 1-2).", 1)
    max_steps: int = _doc("Stop after this many optimizer steps (-1 = run all epochs).", -1)
    bf16: bool | None = _doc("bf16 mixed precision; None = on where the GPU supports it.", None)
    gradient_checkpointing: bool | None = _doc(
        "Recompute activations to save memory; None = on with a GPU.", None
    )
    packing: bool = _doc(
        "Pack several examples into max_length blocks (padding-free, best-fit decreasing).", False
    )
    padding_free: bool = _doc("Concatenate each batch into one row without padding (no packing).", False)
    lora: bool = _doc("Train LoRA adapters (PEFT) instead of all weights.", False)
    lora_r: int = _doc("LoRA rank.", 16)
    lora_alpha: int = _doc("LoRA scaling alpha.", 32)
    lora_dropout: float = _doc("LoRA dropout.", 0.05)
    lora_target: str = _doc(
        "LoRA target modules: 'all-linear' or a comma-separated list of module names.", "all-linear"
    )
    merge_lora: bool = _doc("Merge the LoRA adapters into the base weights before saving.", False)
    filter_check: bool = _doc("Require label/valid columns and keep only label == 1, valid == 1 rows.", True)
    resume_from_checkpoint: str | None = _doc(
        "A checkpoint directory, or 'latest' for the newest complete one in out/ (none yet: start).", None
    )
    overwrite: bool = _doc("Replace a trained model already in out/ (else refuse).", False)
    save_steps: int = _doc("Save a resumable checkpoint every this many optimizer steps.", 500)
    save_total_limit: int = _doc("Keep at most this many checkpoints.", 2)
    logging_steps: int = _doc("Log loss every this many optimizer steps.", 10)
    seed: int = _doc("Random seed for shuffling, initialisation of adapters and dropout.", DEFAULT_SEED)
    attn_implementation: str | None = _doc(
        "Attention kernel (sdpa, eager, flash_attention_2); None = default.", None
    )
    dtype: str = _doc(
        "Dtype the weights are loaded in (float32 master weights; bf16 runs as autocast).", "float32"
    )
    world_size: int | None = _doc("Processes sharing the effective batch; None = $WORLD_SIZE or 1.", None)
    extra_args: dict[str, Any] = _doc("Further SFTConfig/TrainingArguments fields, passed through.", None)

    def __post_init__(self) -> None:
        if self.extra_args is None:
            self.extra_args = {}
        positive = (
            "max_length",
            "effective_batch",
            "per_device_batch",
            "save_steps",
            "logging_steps",
            "lora_r",
        )
        for name in positive:
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be positive, or -1 for all epochs; got {self.max_steps}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("epochs must be positive (or set max_steps)")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.lr_scheduler not in SCHEDULERS:
            raise ValueError(
                f"lr_scheduler must be one of {', '.join(SCHEDULERS)}, got {self.lr_scheduler!r}"
            )
        if self.merge_lora and not self.lora:
            raise ValueError("merge_lora needs lora")
        if self.packing and self.padding_free:
            raise ValueError("choose packing or padding_free, not both (packing is already padding-free)")
        self.gradient_accumulation_steps()  # validates the batch arithmetic early

    def resolved_world_size(self) -> int:
        """Processes that share the effective batch (accelerate/torchrun set ``WORLD_SIZE``)."""
        return self.world_size or int(os.environ.get("WORLD_SIZE", "1"))

    def gradient_accumulation_steps(self) -> int:
        """Accumulation steps so that per-device batch x devices x steps equals the effective batch."""
        per_step = self.per_device_batch * self.resolved_world_size()
        steps = math.ceil(self.effective_batch / per_step)
        if steps * per_step != self.effective_batch:
            raise ValueError(
                f"effective_batch {self.effective_batch} is not a multiple of per_device_batch "
                f"{self.per_device_batch} x {self.resolved_world_size()} device(s)"
            )
        return steps

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-able dict (written next to the trained model)."""
        return dataclasses.asdict(self)

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Field name → one-line description."""
        return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(cls)}
