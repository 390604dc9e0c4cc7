"""pass@k over per-sample correctness, scalar and vectorised over questions; the scalar majority vote.

**pass@k** is the unbiased estimator of Chen et al. (2021): with ``n`` samples of which ``c`` are correct,
``pass@k = 1 - C(n-c, k) / C(n, k)``, the chance that a random k-subset holds a correct sample. It is computed in the
stable product form ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` and is defined only for ``1 <= k <= n``: asking for k > n is
an error, never a 1.0 for a question with no correct sample.

**maj@k** (``majority_vote``) is the accuracy of a majority vote over the *first k samples* (lowest sample indices)
of a question; the summary reports its average over all k-subsets instead (``fs1.scoring.selection``), which is
checked against this scalar definition. Votes go
to normalised extracted answers; a sample with no answer does not vote, so "no answer" never wins while any answer
exists (k samples with no answer at all: incorrect). A tie between answers is won by the answer whose first vote came
earliest (lowest sample index). The vote is correct when the winning answer's earliest sample is correct (with the
rule scorer all samples of one normalised answer share a verdict; with judge verdicts the earliest one counts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fs1.errors import ConfigError, InputError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for ``n`` samples with ``c`` correct; ``ValueError`` unless ``1 <= k <= n`` and ``0 <= c <= n``."""
    if not 1 <= k <= n:
        raise ConfigError(f"pass@{k} needs 1 <= k <= n (n = {n})")
    if not 0 <= c <= n:
        raise InputError(f"correct count {c} outside 0..{n}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_array(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """``pass_at_k`` for each (n, c) pair of two integer arrays, evaluated once per distinct pair."""
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    if n.size == 0:
        return np.zeros(0)
    if (n < k).any():
        raise ConfigError(f"pass@{k} needs k <= n for every question (smallest n = {int(n.min())})")
    pairs, inverse = _distinct_pairs(n, c)
    values = np.array([pass_at_k(int(pn), int(pc), k) for pn, pc in pairs])
    return values[inverse]


def _distinct_pairs(n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (n, c) rows, sorted, and per pair the index of its own: one sort of ``n * width + c`` where that
    fits in 62 bits (``np.unique`` by rows sorts a structured view, ten times slower at 100,000 questions)."""
    width = int(c.max()) + 1
    if n.shape != c.shape or c.min() < 0 or n.min() < 0 or int(n.max()) >= (1 << 62) // width:
        pairs, inverse = np.unique(np.stack([n, c], axis=1), axis=0, return_inverse=True)
        return pairs, inverse.reshape(-1)
    codes, inverse = np.unique(n * width + c, return_inverse=True)
    return np.stack([codes // width, codes % width], axis=1), inverse.reshape(-1)


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> bool:
    """maj@k for one question: ``answers``/``correct`` are in sample order; see the module docstring."""
    if not 1 <= k <= len(answers):
        raise ConfigError(f"maj@{k} needs 1 <= k <= n (n = {len(answers)})")
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, answer in enumerate(answers[:k]):
        if answer is None:
            continue
        counts[answer] = counts.get(answer, 0) + 1
        first.setdefault(answer, index)
    if not counts:
        return False
    winner = min(counts, key=lambda a: (-counts[a], first[a]))
    return bool(correct[first[winner]])
