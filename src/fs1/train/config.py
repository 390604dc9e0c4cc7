"""The fine-tuning schema: ``SftConfig`` (the s1/fs1 recipe's hyper-parameters, with TRL's names, as defaults; see
docs/protocol.md §2) and ``TrainConfig`` (one ``fs1 train`` run: the recipe plus data, model and output).

``fs1 train``'s options and an experiment file's ``train`` section are these fields. Where a field is TRL's
(``SFTConfig``, ``TrainingArguments``, ``ModelConfig``) it has TRL's name and is passed through; the names of earlier
fs1 versions (``lr``, ``epochs``, ``lora``, ...) are accepted as aliases. Hardware-dependent switches (bf16, gradient
checkpointing) default to ``None`` = decide from the hardware.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from fs1.errors import ConfigError
from fs1.seeding import DEFAULT_SEED
from fs1.vocab import EMBEDDED_NAME

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
Scheduler = Literal["cosine", "linear", "constant", "constant_with_warmup"]
# PEFT's shorthand for "every linear layer except the output head".
LORA_ALL_LINEAR = "all-linear"


def _aka(name: str, *old: str) -> AliasChoices:
    """Accept the field's own name and the names earlier fs1 versions used for it."""
    return AliasChoices(name, *old)


class SftConfig(BaseModel):
    """The fine-tuning recipe; defaults are the paper's (docs/protocol.md §2)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    num_train_epochs: float = Field(
        5.0, validation_alias=_aka("num_train_epochs", "epochs"), description="Training epochs (paper: 5)."
    )
    learning_rate: float = Field(
        1e-5,
        gt=0,
        validation_alias=_aka("learning_rate", "lr"),
        description="Peak learning rate (paper: 1e-5).",
    )
    max_length: int = Field(
        8192,
        gt=0,
        description="Longest example in tokens; longer ones are dropped (paper: 8192), not truncated.",
    )
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1 = run all epochs).")
    effective_batch: int = Field(
        16, gt=0, description="Sequences per optimizer step over all devices (paper: 16)."
    )
    per_device_train_batch_size: int = Field(
        1,
        gt=0,
        validation_alias=_aka("per_device_train_batch_size", "per_device_batch", "batch_size"),
        description="Sequences per device per forward pass (paper: 1-2).",
    )
    warmup_ratio: float = Field(
        0.05, ge=0, lt=1, description="Fraction of steps spent warming the learning rate up."
    )
    weight_decay: float = Field(1e-4, description="AdamW weight decay.")
    adam_beta1: float = Field(0.9, description="AdamW beta1.")
    adam_beta2: float = Field(0.95, description="AdamW beta2.")
    lr_scheduler_type: Scheduler = Field(
        "cosine",
        validation_alias=_aka("lr_scheduler_type", "lr_scheduler", "scheduler"),
        description="Learning-rate schedule: cosine (the s1 choice; unconfirmed for fs1), linear, constant, "
        "constant_with_warmup.",
    )
    bf16: bool | None = Field(None, description="bf16 mixed precision; None = on where the GPU supports it.")
    gradient_checkpointing: bool | None = Field(
        None, description="Recompute activations to save memory; None = on with a GPU."
    )
    packing: bool = Field(
        False, description="Pack several examples into max_length blocks (padding-free, best-fit decreasing)."
    )
    padding_free: bool = Field(
        False, description="Concatenate each batch into one row without padding (no packing)."
    )
    use_peft: bool = Field(
        False,
        validation_alias=_aka("use_peft", "lora"),
        description="Train LoRA adapters (PEFT) instead of all weights.",
    )
    lora_r: int = Field(16, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(32, description="LoRA scaling alpha.")
    lora_dropout: float = Field(0.05, description="LoRA dropout.")
    lora_target_modules: str = Field(
        LORA_ALL_LINEAR,
        validation_alias=_aka("lora_target_modules", "lora_target"),
        description="LoRA target modules: 'all-linear' or a comma-separated list of module names.",
    )
    merge_lora: bool = Field(
        False, description="Merge the LoRA adapters into the base weights before saving."
    )
    filter_check: bool = Field(
        True,
        validation_alias=_aka("filter_check", "require_correct"),
        description="Require label/valid columns and keep only label == 1, valid == 1 rows (the paper's filter).",
    )
    save_steps: int = Field(
        500, gt=0, description="Save a resumable checkpoint every this many optimizer steps."
    )
    save_total_limit: int = Field(2, description="Keep at most this many checkpoints.")
    keep_checkpoints: bool = Field(
        False,
        description="Keep checkpoints/ (weights plus optimizer state, about 3x the model) once training has "
        "finished; by default they are deleted after the final model is saved, since only an unfinished run resumes.",
    )
    logging_steps: int = Field(10, gt=0, description="Log loss every this many optimizer steps.")
    seed: int = Field(
        DEFAULT_SEED, description="Random seed for shuffling, initialisation of adapters and dropout."
    )
    attn_implementation: str | None = Field(
        None, description="Attention kernel (sdpa, eager, flash_attention_2); None = default."
    )
    dtype: str = Field(
        "float32",
        description="Dtype the weights are loaded in (float32 master weights; bf16 runs as autocast).",
    )

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError(f"max_steps must be positive, or -1 for all epochs; got {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> SftConfig:
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("num_train_epochs must be positive (or set max_steps)")
        if self.merge_lora and not self.use_peft:
            raise ConfigError("merge_lora needs lora (use_peft)")
        if self.packing and self.padding_free:
            raise ConfigError("choose packing or padding_free, not both (packing is already padding-free)")
        return self


class TrainConfig(SftConfig):
    """Everything one ``fs1 train`` run needs: the recipe, the data, the student and where the model goes."""

    data: str = Field(
        description="SFT data: a dataset directory (fs1 build-sft), a .jsonl/.json/.parquet/.csv file, or a hub id."
    )
    model: str = Field(
        EMBEDDED_NAME, description="Student model: a path, a hub id, or a short name (smollm2-135m)."
    )
    out: str = Field(
        description="Output directory: the trained model (HF layout); checkpoints/ for resuming while it runs."
    )
    resume_from_checkpoint: str | None = Field(
        None,
        description="A checkpoint directory, or 'latest' for the newest complete one in out/ (none yet: start).",
    )
    overwrite: bool = Field(False, description="Replace a trained model already in out/ (else refuse).")
    world_size: int | None = Field(
        None, description="Processes sharing the effective batch; None = $WORLD_SIZE or 1."
    )
    extra_args: dict[str, Any] = Field(
        default_factory=dict, description="Further SFTConfig/TrainingArguments fields, passed through."
    )

    @model_validator(mode="after")
    def _check_batch(self) -> TrainConfig:
        self.gradient_accumulation_steps()  # validates the batch arithmetic early
        return self

    # The names earlier versions read; the schema's fields carry TRL's names.
    @property
    def epochs(self) -> float:
        return self.num_train_epochs

    @property
    def lr_scheduler(self) -> str:
        return self.lr_scheduler_type

    @property
    def per_device_batch(self) -> int:
        return self.per_device_train_batch_size

    @property
    def lora(self) -> bool:
        return self.use_peft

    @property
    def lora_target(self) -> str:
        return self.lora_target_modules

    def resolved_world_size(self) -> int:
        """Processes that share the effective batch (accelerate/torchrun set ``WORLD_SIZE``)."""
        return self.world_size or int(os.environ.get("WORLD_SIZE", "1"))

    def gradient_accumulation_steps(self) -> int:
        """Accumulation steps so that per-device batch x devices x steps equals the effective batch."""
        per_step = self.per_device_train_batch_size * self.resolved_world_size()
        steps = math.ceil(self.effective_batch / per_step)
        if steps * per_step != self.effective_batch:
            raise ConfigError(
                f"effective_batch {self.effective_batch} is not a multiple of per_device_train_batch_size "
                f"{self.per_device_train_batch_size} x {self.resolved_world_size()} device(s)"
            )
        return steps

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-able dict (written next to the trained model)."""
        return self.model_dump()

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Field name → one-line description."""
        return {name: info.description or "" for name, info in cls.model_fields.items()}
