"""pass@k against enumeration of all k-subsets; the scalar majority-vote rules (all-subsets maj@k: test_scoring_selection)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs1.scoring.metrics import majority_vote, pass_at_k, pass_at_k_array


def brute_force_pass_at_k(correct: list[bool], k: int) -> float:
    subsets = list(itertools.combinations(range(len(correct)), k))
    return sum(any(correct[i] for i in subset) for subset in subsets) / len(subsets)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=10), st.data())
def test_pass_at_k_equals_enumeration_of_subsets(correct: list[bool], data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(correct)))
    assert pass_at_k(len(correct), sum(correct), k) == pytest.approx(
        brute_force_pass_at_k(correct, k), abs=1e-12
    )


def test_pass_at_k_edges() -> None:
    assert pass_at_k(16, 0, 16) == 0.0
    assert pass_at_k(16, 1, 16) == 1.0
    assert pass_at_k(16, 16, 1) == 1.0
    assert pass_at_k(16, 4, 1) == pytest.approx(0.25)
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)  # stable where C(200, 100) overflows floats
    for bad in [(4, 0, 5), (4, 1, 0), (4, 5, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_pass_at_k_array_matches_scalar_and_refuses_k_above_n() -> None:
    n = np.array([16, 16, 8, 16, 8])
    c = np.array([0, 3, 8, 3, 1])
    expected = [pass_at_k(int(a), int(b), 4) for a, b in zip(n, c, strict=True)]
    assert pass_at_k_array(n, c, 4).tolist() == pytest.approx(expected)
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k_array(n, c, 9)


def test_majority_vote_rules() -> None:
    # plain majority
    assert majority_vote(["a", "b", "a"], [True, False, True], 3) is True
    assert majority_vote(["b", "a", "b"], [False, True, False], 3) is False
    # only the first k samples vote
    assert majority_vote(["a", "b", "b", "b"], [True, False, False, False], 1) is True
    # tie: the answer voted for first wins
    assert majority_vote(["b", "a", "a", "b"], [False, True, True, False], 4) is False
    assert majority_vote(["a", "b", "b", "a"], [True, False, False, True], 4) is True
    # "no answer" never wins while any answer exists
    assert majority_vote([None, None, None, "a"], [False, False, False, True], 4) is True
    assert majority_vote([None, None], [False, False], 2) is False
    with pytest.raises(ValueError):
        majority_vote(["a"], [True], 2)
