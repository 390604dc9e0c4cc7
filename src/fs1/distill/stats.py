"""Counts of one SFT export, shared by the exporter (``sft.py``) and the dataset card (``card.py``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_MAX_LENGTH = 8192


@dataclass
class SftStats:
    """Counts of one export."""

    traces: int = 0
    correct: int = 0
    valid: int = 0
    too_long: int = 0
    kept: int = 0
    dropped_leaked: int = 0
    leaks: int = 0
    max_length: int = DEFAULT_MAX_LENGTH
    student: str = ""
    sources: list[str] = field(default_factory=list)
    teachers: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
