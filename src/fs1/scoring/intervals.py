"""Bootstrap intervals over questions: resample questions (never samples) with replacement, recompute, take quantiles.

Samples of one question are correlated (same question, same model), so the unit resampled is the question: a
question drawn twice brings all its samples, and with several budgets all its (question, budget) units, twice.
A summary resamples within each dataset (a benchmark is a fixed number of questions per dataset) and pools the
datasets for ``overall``; intervals are given for the headline slices (overall and per dataset, per budget too).
Every number of a summary slice is a function of per-unit column means, so one draw of question weights gives a
replicate of every column mean at once (``replicate_means``); ratios such as accuracy given attempted are then
recomputed per replicate, which keeps their intervals honest. Intervals are percentile intervals (2.5 % and
97.5 % quantiles of ``BOOTSTRAP_DRAWS`` replicates), seeded: the same input and seed give the same bytes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fs1.cores import usable_cores
from fs1.seeding import derive_seed

BOOTSTRAP_DRAWS = 1000
LEVEL = 0.95
_CHUNK_CELLS = 4_000_000  # draws x questions per weight matrix, to bound memory on large runs


def slice_rng(seed: int, name: str) -> np.random.Generator:
    """A generator for one named slice: independent of the order slices are computed in (``fs1.seeding``)."""
    return np.random.default_rng(derive_seed(seed, "bootstrap", name))


def replicate_means(
    values: np.ndarray, cluster: np.ndarray, rng: np.random.Generator, draws: int = BOOTSTRAP_DRAWS
) -> np.ndarray:
    """``(draws, columns)`` bootstrap replicates of the column means of ``values`` (units x columns).

    ``cluster`` gives each unit's question (any integers or strings); each replicate draws as many questions as
    there are, with replacement, and weighs each unit by how often its question was drawn.
    """
    sums, units = replicate_sums(values, cluster, rng, draws)
    return sums / units[:, None]


def replicate_sums(
    values: np.ndarray, cluster: np.ndarray, rng: np.random.Generator, draws: int = BOOTSTRAP_DRAWS
) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate: the weighted column sums ``(draws, columns)`` and the weighted unit count ``(draws,)``.

    Sums of independent strata add up: the replicate of a pooled mean is the sum of the strata's replicate sums
    over the sum of their counts (a stratified bootstrap, used for ``overall`` over datasets of fixed size).
    """
    values = np.asarray(values, dtype=float).reshape(len(cluster), -1)
    _, question = np.unique(np.asarray(cluster), return_inverse=True)
    n_questions = int(question.max()) + 1 if question.size else 0
    if n_questions == 0:
        return np.zeros((draws, values.shape[1])), np.zeros(draws)
    sums = np.zeros((n_questions, values.shape[1] + 1))
    np.add.at(sums, question, np.c_[values, np.ones(len(values))])
    out = np.empty((draws, sums.shape[1]))
    step = max(1, _CHUNK_CELLS // n_questions)
    weights = np.empty((min(step, draws), n_questions))  # float: float x float is the BLAS path
    for start in range(0, draws, step):
        size = min(step, draws - start)
        picks = rng.integers(0, n_questions, size=(size, n_questions))
        # Counted draw by draw: one draw's counts stay in the processor's cache, the chunk's (10s of MB) do not.
        for row, drawn in enumerate(picks):
            weights[row] = np.bincount(drawn, minlength=n_questions)
        out[start : start + size] = weights[:size] @ sums
    return out[:, :-1], out[:, -1]


def replicate_sums_parallel(
    jobs: list[tuple[np.ndarray, np.ndarray, np.random.Generator]], draws: int = BOOTSTRAP_DRAWS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``replicate_sums(values, cluster, rng)`` of each job, on as many threads as there are usable cores.

    numpy releases the GIL in the draws, counts and products that are all of the work, and each job draws from its
    own generator: the results are those of running the jobs one after the other.
    """

    def run(job: tuple[np.ndarray, np.ndarray, np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
        values, cluster, rng = job
        return replicate_sums(values, cluster, rng, draws)

    threads = min(len(jobs), usable_cores())
    if threads <= 1:
        return [run(job) for job in jobs]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, jobs))


def percentile_interval(replicates: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """``(2, ...)``: the lower and upper percentile bounds of replicates along axis 0."""
    tail = (1.0 - level) / 2.0
    return np.quantile(replicates, [tail, 1.0 - tail], axis=0)
