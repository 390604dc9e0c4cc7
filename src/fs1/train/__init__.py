"""Fine-tuning stage: SFT of a student model on reasoning traces with TRL (docs/protocol.md §2).

``TrainConfig`` (config.py) holds the recipe; ``train(config)`` (trainer.py) runs it; data.py loads, filters and
splits the SFT data; chat.py splits examples at the assistant turn; output.py writes the model directory.
``accelerate_configs/`` ships FSDP full-shard and DeepSpeed ZeRO-3 launch configs. Importing this package is light:
torch, transformers and TRL load only when ``train`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs1.errors import ConfigError
from fs1.train.config import TrainConfig

if TYPE_CHECKING:
    from fs1.train.output import TrainResult

ACCELERATE_CONFIGS = Path(__file__).parent / "accelerate_configs"


def train(config: TrainConfig, callbacks: list[Any] | None = None) -> TrainResult:
    """Fine-tune ``config.model`` on ``config.data`` and write the model to ``config.out`` (see trainer.train)."""
    from fs1.train.trainer import train as run

    return run(config, callbacks)


def accelerate_config(name: str) -> Path:
    """Path of a shipped accelerate config: ``fsdp_full_shard`` or ``deepspeed_zero3``."""
    path = ACCELERATE_CONFIGS / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in ACCELERATE_CONFIGS.glob("*.yaml")))
        raise ConfigError(f"no accelerate config {name!r}; shipped: {known}")
    return path


__all__ = ["ACCELERATE_CONFIGS", "TrainConfig", "accelerate_config", "train"]


def __getattr__(name: str) -> Any:  # pragma: no cover - convenience for `fs1.train.TrainResult`
    if name == "TrainResult":
        from fs1.train.output import TrainResult

        return TrainResult
    raise AttributeError(name)
