"""The data-making stage: teacher distillation of rt / fs1 traces, their labelling, SFT export and leakage check.

Modules: ``teacher`` (prompts, reply parsing), ``labelling`` (label / valid with the scorer), ``config`` (run settings and summary), ``runner`` (the
resumable, concurrent distillation loop), ``accounting`` (tokens, cost), ``sft`` + ``card`` (Parquet dataset and its
card), ``leakage`` (duplicates of benchmark questions), ``inputs`` (questions and path files).
"""

from __future__ import annotations

from fs1.distill.config import DistillConfig, DistillSummary
from fs1.distill.labelling import label_trace
from fs1.distill.runner import run_distillation
from fs1.distill.teacher import build_prompt, parse_reply

__all__ = [
    "DistillConfig",
    "DistillSummary",
    "build_prompt",
    "label_trace",
    "parse_reply",
    "run_distillation",
]
