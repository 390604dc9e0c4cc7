"""The data-making stage: teacher distillation of rt / fs1 traces, their labelling, SFT export and leakage check.

Modules: ``teacher`` (prompts, reply parsing), ``labelling`` (label / valid with the scorer), ``config`` (run settings and summary), ``runner`` (the
resumable, concurrent distillation loop), ``accounting`` (tokens, cost), ``sft`` + ``card`` (Parquet dataset and its
card), ``leakage`` (duplicates of benchmark questions), ``inputs`` (questions and path files).
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so the CLI can import the schema (``config``) without the scorer and numpy behind the rest.
_LAZY = {
    "DistillConfig": "fs1.distill.config",
    "DistillSummary": "fs1.distill.config",
    "label_trace": "fs1.distill.labelling",
    "run_distillation": "fs1.distill.runner",
    "teacher_prompt": "fs1.distill.teacher",
    "split_reply": "fs1.distill.teacher",
}

__all__ = [
    "DistillConfig",
    "DistillSummary",
    "teacher_prompt",
    "label_trace",
    "split_reply",
    "run_distillation",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
