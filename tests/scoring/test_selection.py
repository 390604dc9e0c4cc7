"""All-subsets selection (maj@k, KG-verified selection) against brute-force enumeration, and Monte-Carlo fallback."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs1.scoring import selection
from fs1.scoring.metrics import majority_vote, pass_at_k
from fs1.scoring.selection import select_at_k, vote_groups

# One sample: (answer id or None, correct, KG-supported). Correct only where there is an answer.
_sample = st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.booleans(), st.booleans())


def brute_force(samples: list[tuple[int | None, bool, bool]], k: int, kg: bool) -> float:
    """Mean correctness of the vote over every ordered draw of k distinct samples, ties to the earliest sample.

    Ordered draws make "ties to the earliest" a fair coin between tied answers; KG selection first keeps the
    supported answers when the draw holds any (the rule of ``fs1.run.results``).
    """
    total, draws = 0.0, 0
    for order in itertools.permutations(range(len(samples)), k):
        drawn = [samples[i] for i in order]
        if kg and any(a is not None and s for a, _, s in drawn):
            drawn = [d if d[2] else (None, False, False) for d in drawn]
        total += majority_vote([a for a, _, _ in drawn], [ok and a is not None for a, ok, _ in drawn], k)
        draws += 1
    return total / draws


def _groups(samples: list[tuple[int | None, bool, bool]], kg: bool) -> tuple:
    answers = [-1 if a is None else a for a, _, _ in samples]
    correct = [ok and a is not None for a, ok, _ in samples]
    supported_by_answer = {
        a: s for a, _, s in samples if a is not None
    }  # support is a property of the answer
    preferred = [a is not None and supported_by_answer[a] for a, _, _ in samples] if kg else None
    return vote_groups(answers, correct, [a is not None for a in answers], preferred)


@settings(max_examples=150, deadline=None)
@given(st.lists(_sample, min_size=1, max_size=6), st.data(), st.booleans())
def test_selection_equals_brute_force_enumeration(samples: list, data: st.DataObject, kg: bool) -> None:
    # answers share one verdict and one KG flag, as with the rule scorer: fix both from the first sample of each
    first = {}
    for a, ok, s in samples:
        first.setdefault(a, (ok, s))
    samples = [(a, *first[a]) for a, _, _ in samples]
    k = data.draw(st.integers(1, len(samples)))
    expected = brute_force(samples, k, kg)
    assert select_at_k(_groups(samples, kg), len(samples), k).correct == pytest.approx(expected, abs=1e-12)


def test_mixed_verdicts_within_one_answer_split_the_credit() -> None:
    # A judge may give one normalised answer two verdicts; the earliest drawn voter decides (brute force agrees).
    samples = [(0, True, False), (0, False, False), (1, False, False), (None, False, False)]
    for k in (1, 2, 3, 4):
        got = select_at_k(_groups(samples, False), 4, k).correct
        assert got == pytest.approx(brute_force(samples, k, False), abs=1e-12)


def test_one_right_answer_among_silent_samples_is_pass_at_k() -> None:
    # the vote is right exactly when a subset draws one of the 5 right samples
    assert select_at_k(((5, 5, 5, False),), 24, 12).correct == pytest.approx(pass_at_k(24, 5, 12), abs=1e-12)


def test_hand_computed_vote() -> None:
    # 16 samples: 6 "a" (right), 6 "b" (wrong), 2 refusals (an answer that is not attempted), 2 without answer.
    groups = ((6, 6, 6, False), (6, 0, 6, False), (2, 0, 0, False))
    at16 = select_at_k(groups, 16, 16)
    assert (at16.correct, at16.attempted) == (0.5, 1.0)  # a : b tie 6 : 6, the refusals lose
    at1 = select_at_k(groups, 16, 1)
    assert (at1.correct, at1.attempted) == pytest.approx((6 / 16, 12 / 16))
    # k = 2: pairs C(16,2) = 120. Correct: a+a 15, a+none 12; a+b 36, a+refusal 12 are ties of two (1/2 each).
    assert select_at_k(groups, 16, 2).correct == pytest.approx((15 + 12 + (36 + 12) / 2) / 120)


def _clear_caches() -> None:
    selection._select_cached.cache_clear()
    selection._count_vectors.cache_clear()
    selection._win_chances.cache_clear()


def test_monte_carlo_beyond_the_exact_limit_is_seeded_and_within_its_error() -> None:
    # 24 distinct answers, 5 of them right: at k = 12 there are C(24, 12) vote vectors, too many to enumerate.
    groups = tuple([(1, 1, 1, False)] * 5 + [(1, 0, 1, False)] * 19)
    estimate = select_at_k(groups, 24, 12, seed=3)
    exact = 5 / 24  # every draw is a tie of 12 single votes: the expected share of right answers among them
    assert estimate.correct_error > 0
    assert abs(estimate.correct - exact) < 4 * estimate.correct_error
    assert select_at_k(groups, 24, 12, seed=3) == estimate
    _clear_caches()
    assert select_at_k(groups, 24, 12, seed=3) == estimate  # same bytes from a fresh computation
    assert select_at_k(groups, 24, 12, seed=4) != estimate


def test_monte_carlo_agrees_with_exact_on_a_rich_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = ((1, 0, 1, True), (3, 3, 3, False), (4, 0, 4, True), (2, 0, 0, False))
    exact = select_at_k(groups, 12, 5)
    monkeypatch.setattr(selection, "EXACT_VECTORS", 10)
    _clear_caches()
    sampled = select_at_k(groups, 12, 5, seed=1)
    _clear_caches()
    assert sampled.correct_error > 0
    assert abs(sampled.correct - exact.correct) < 4 * sampled.correct_error
    assert abs(sampled.attempted - exact.attempted) < 4 * max(sampled.attempted_error, 1e-9)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="1 <= k <= n"):
        select_at_k(((2, 1, 2, False),), 2, 3)
    with pytest.raises(ValueError, match="votes for only"):
        select_at_k(((3, 1, 3, False),), 2, 1)
