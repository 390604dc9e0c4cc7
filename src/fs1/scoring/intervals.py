"""Bootstrap intervals over questions: resample questions (never samples) with replacement, recompute, take quantiles.

Samples of one question are correlated (same question, same model), so the unit resampled is the question: a
question drawn twice brings all its samples, and with several budgets all its (question, budget) units, twice.
Every number of a summary slice is a function of per-unit column means, so one draw of question weights gives a
replicate of every column mean at once (``replicate_means``); ratios such as accuracy given attempted are then
recomputed per replicate, which keeps their intervals honest. Intervals are percentile intervals (2.5 % and
97.5 % quantiles of ``BOOTSTRAP_DRAWS`` replicates), seeded: the same input and seed give the same bytes.
"""

from __future__ import annotations

import zlib

import numpy as np

BOOTSTRAP_DRAWS = 1000
LEVEL = 0.95
_CHUNK_CELLS = 4_000_000  # draws x questions per weight matrix, to bound memory on large runs


def slice_rng(seed: int, name: str) -> np.random.Generator:
    """A generator for one named slice: independent of the order slices are computed in."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def replicate_means(
    values: np.ndarray, cluster: np.ndarray, rng: np.random.Generator, draws: int = BOOTSTRAP_DRAWS
) -> np.ndarray:
    """``(draws, columns)`` bootstrap replicates of the column means of ``values`` (units x columns).

    ``cluster`` gives each unit's question (any integers); each replicate draws as many questions as there are,
    with replacement, and weighs each unit by how often its question was drawn.
    """
    values = np.asarray(values, dtype=float).reshape(len(cluster), -1)
    _, question = np.unique(np.asarray(cluster), return_inverse=True)
    n_questions = int(question.max()) + 1 if question.size else 0
    if n_questions == 0:
        return np.zeros((draws, values.shape[1]))
    sums = np.zeros((n_questions, values.shape[1]))
    np.add.at(sums, question, values)
    units = np.bincount(question, minlength=n_questions).astype(float)
    out = np.empty((draws, values.shape[1]))
    step = max(1, _CHUNK_CELLS // n_questions)
    for start in range(0, draws, step):
        size = min(step, draws - start)
        picks = rng.integers(0, n_questions, size=(size, n_questions))
        flat = (picks + n_questions * np.arange(size)[:, None]).ravel()
        weights = np.bincount(flat, minlength=size * n_questions).reshape(size, n_questions).astype(float)
        out[start : start + size] = (weights @ sums) / (weights @ units)[:, None]
    return out


def percentile_interval(replicates: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """``(2, ...)``: the lower and upper percentile bounds of replicates along axis 0."""
    tail = (1.0 - level) / 2.0
    return np.quantile(replicates, [tail, 1.0 - tail], axis=0)
