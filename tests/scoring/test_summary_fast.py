"""The summary's shortcuts give the same bits as the plain numpy calls they replace, on seeded random inputs.

Each shortcut is a cheaper way to the same array (a stable sort of keys already almost in order instead of a fresh
sort, one integer key instead of rows, a draw's counts taken one draw at a time): the references here are the calls
as they were written before, and the results must be equal bit for bit, since ``summary.json`` must not change.
"""

from __future__ import annotations

import numpy as np
import pytest

from fs1.scoring import intervals, metrics, votes


def grouped(
    rng: np.random.Generator, units: int, per_unit: int, values: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: its unit (in order, as the summary orders samples) and a value in no order within the unit."""
    unit = np.sort(rng.integers(0, units, size=units * per_unit))
    return unit, rng.integers(0, values, size=unit.size)


@pytest.mark.parametrize("seed", range(4))
def test_distinct_keys_equal_numpy_unique(seed: int) -> None:
    rng = np.random.default_rng(seed)
    unit, answer = grouped(rng, 500, 16, 40 if seed % 2 else 3)
    keys = unit * 40 + answer
    expected_keys, expected_inverse = np.unique(keys, return_inverse=True)
    found_keys, found_inverse = votes._distinct_sorted(keys)
    assert np.array_equal(found_keys, expected_keys)
    assert np.array_equal(found_inverse, expected_inverse.reshape(-1))
    empty = votes._distinct_sorted(np.zeros(0, dtype=np.int64))
    assert empty[0].size == empty[1].size == 0


@pytest.mark.parametrize("seed", range(4))
def test_order_within_units_equals_lexsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    unit, codes = grouped(
        rng, 300, 12, 5 if seed % 2 else 1000
    )  # few codes: many ties, which keep their order
    assert np.array_equal(votes._sorted_within_units(unit, codes, 1000), np.lexsort((codes, unit)))
    huge = unit + (1 << 62)  # a key that would not fit: lexsort itself
    assert np.array_equal(votes._sorted_within_units(huge, codes, 1000), np.lexsort((codes, huge)))


def test_distinct_pairs_equal_unique_rows() -> None:
    rng = np.random.default_rng(0)
    n = rng.integers(1, 20, size=5000)
    c = rng.integers(0, 20, size=5000) % (n + 1)
    for first, second in [(n, c), (n + (1 << 61), c), (n, -c)]:  # ordinary; too wide for one key; negative
        pairs, inverse = np.unique(np.stack([first, second], axis=1), axis=0, return_inverse=True)
        found_pairs, found_inverse = metrics._distinct_pairs(first, second)
        assert np.array_equal(found_pairs, pairs)
        assert np.array_equal(found_inverse, inverse.reshape(-1))


def replicate_sums_before(
    values: np.ndarray, cluster: np.ndarray, rng: np.random.Generator, draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """``intervals.replicate_sums`` as written before its draws were counted one at a time."""
    values = np.asarray(values, dtype=float).reshape(len(cluster), -1)
    _, question = np.unique(np.asarray(cluster), return_inverse=True)
    n_questions = int(question.max()) + 1
    sums = np.zeros((n_questions, values.shape[1] + 1))
    np.add.at(sums, question, np.c_[values, np.ones(len(values))])
    out = np.empty((draws, sums.shape[1]))
    step = max(1, intervals._CHUNK_CELLS // n_questions)
    for start in range(0, draws, step):
        size = min(step, draws - start)
        picks = rng.integers(0, n_questions, size=(size, n_questions))
        picks += n_questions * np.arange(size)[:, None]
        weights = np.bincount(picks.ravel(), minlength=size * n_questions).reshape(size, n_questions)
        out[start : start + size] = weights.astype(np.float64) @ sums
    return out[:, :-1], out[:, -1]


@pytest.mark.parametrize(("questions", "draws"), [(50, 1000), (3000, 1000), (30_000, 300)])
def test_bootstrap_replicates_are_the_same_bits(questions: int, draws: int) -> None:
    rng = np.random.default_rng(questions)
    cluster = np.array([f"q{i}" for i in rng.integers(0, questions, size=2 * questions)], dtype=object)
    values = rng.random((cluster.size, 7))
    expected = replicate_sums_before(values, cluster, np.random.default_rng(1), draws)
    found = intervals.replicate_sums(values, cluster, np.random.default_rng(1), draws)
    for a, b in zip(found, expected, strict=True):
        assert a.tobytes() == b.tobytes()
