"""The authors' scoring, rewritten from its description (docs/protocol.md §4) as the baseline of ``bench_scoring.py``.

Extraction, as their ``prepare_llm_as_a_judge.py`` does it: the first ``\\boxed{[^}]*}`` anywhere (thinking included; the
box ends at its first closing brace), else the text after the first ``<|im_start|>answer`` (up to the next one), else
the last 10 whitespace tokens. Matching: a plain Python containment loop, ``any(g.lower() in pred.lower() for g in gold)``.
pass@k: the unbiased estimator per question with numpy, one question at a time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from fs1.prompts import ANSWER_MARKER

_FIRST_BOX = re.compile(r"\\boxed\{([^}]*)\}")
LAST_TOKENS = 10


def reference_extract(text: str) -> str:
    """First box, else the text after the first answer marker, else the last 10 whitespace tokens."""
    match = _FIRST_BOX.search(text)
    if match:
        return match.group(1)
    if ANSWER_MARKER in text:
        return text.split(ANSWER_MARKER)[1]
    return " ".join(text.split()[-LAST_TOKENS:])


def reference_correct(prediction: str, gold: Sequence[str]) -> bool:
    """Case-insensitive substring containment of any gold answer."""
    return any(g.lower() in prediction.lower() for g in gold)


def reference_pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al.'s numpy estimator, as commonly copied."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
