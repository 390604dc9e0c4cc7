"""Selection over k samples (majority vote, KG-verified vote), averaged over all k-subsets of a question's n samples.

pass@k is the chance that a random k-subset of the n samples holds a correct one; the selection estimates here are
built the same way, so they are unbiased estimates of "draw k samples, select one answer" rather than the outcome
of the first k samples only (which has more variance).

**The vote on one k-subset.** Samples vote for their normalised answer; a sample with no answer does not vote. With
a *preferred* flag per answer (KG-verified selection: the KG supports the answer), only preferred answers vote
when the subset holds any. The answer with most votes wins; a tie between t answers gives each ``1/t`` of the
credit (the expected outcome of breaking the tie at random, which for i.i.d. samples equals breaking it by the
earliest sample). A winning answer's credit is split by its voters: the share of them that are correct and the
share that are attempted (with the rule scorer or a judge, all samples of one answer share a verdict, so a winner
is simply correct or not). No vote at all: neither correct nor attempted.

**Estimate.** The subset outcome averaged over all ``C(n, k)`` subsets, computed exactly: subsets that split their
votes over the answers the same way have the same outcome, so the average runs over the distinct vote-count
vectors, each weighted by the number of subsets giving it (a product of binomials). When there are more than
``EXACT_VECTORS`` such vectors (many distinct answers at large k) it is taken over ``MONTE_CARLO_DRAWS`` random
k-subsets instead (seeded by the question's vote pattern and the seed, so the same input gives the same bytes),
with the standard error of that average. Questions with the same vote pattern (answer group sizes, their correct / attempted / preferred counts)
share one computation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from math import comb

import numpy as np

from fs1.errors import ConfigError

EXACT_VECTORS = 20_000
MONTE_CARLO_DRAWS = 4_000

# One answer group of a question: (votes, correct voters, attempted voters, preferred).
Group = tuple[int, int, int, bool]


@dataclass(frozen=True)
class SelectionEstimate:
    """Expected share of selections that are correct / attempted, and the Monte-Carlo standard errors (0: exact)."""

    correct: float
    attempted: float
    correct_error: float = 0.0
    attempted_error: float = 0.0


def vote_groups(
    answers: list[int], correct: list[bool], attempted: list[bool], preferred: list[bool] | None = None
) -> tuple[Group, ...]:
    """The canonical vote pattern of one question's samples (``answers``: answer ids, -1 for no answer)."""
    groups: dict[int, list[int]] = {}
    for index, answer in enumerate(answers):
        if answer < 0:
            continue
        group = groups.setdefault(answer, [0, 0, 0, 0])
        group[0] += 1
        group[1] += bool(correct[index])
        group[2] += bool(attempted[index])
        group[3] |= bool(preferred[index]) if preferred is not None else False
    return tuple(sorted((g[0], g[1], g[2], bool(g[3])) for g in groups.values()))


def select_at_k(groups: tuple[Group, ...], n: int, k: int, seed: int = 0) -> SelectionEstimate:
    """The selection outcome at ``k`` for a question with ``n`` samples voting as ``groups`` (module docstring)."""
    return _select_cached(groups, n, k, seed)


@lru_cache(maxsize=1 << 14)
def _select_cached(groups: tuple[Group, ...], n: int, k: int, seed: int) -> SelectionEstimate:
    # Checked here, on a cache miss only (an error is not cached, so a bad call raises every time).
    if not 1 <= k <= n:
        raise ConfigError(f"selection at k = {k} needs 1 <= k <= n (n = {n})")
    if sum(g[0] for g in groups) > n:
        raise ValueError(f"{sum(g[0] for g in groups)} votes for only {n} samples")
    if not groups:
        return SelectionEstimate(0.0, 0.0)
    if len(groups) == 1 and groups[0][0] == n:  # every sample votes for one answer: every subset elects it
        votes, right_votes, tried_votes, _ = groups[0]
        return SelectionEstimate(right_votes / votes, tried_votes / votes)
    if k == 1:  # each sample alone: it is selected when it has an answer
        return SelectionEstimate(sum(g[1] for g in groups) / n, sum(g[2] for g in groups) / n)
    sizes = tuple(g[0] for g in groups)
    won = _win_chances(sizes, n - sum(sizes), k, tuple(g[3] for g in groups))
    if won is not None:
        right = np.array([g[1] / g[0] for g in groups])
        tried = np.array([g[2] / g[0] for g in groups])
        return SelectionEstimate(float(won @ right), float(won @ tried))
    group, correct, attempted, preferred = _layout(groups, n)
    picks = _random_subsets(n, k, _pattern_seed(groups, n, k, seed))
    outcome = _subset_outcomes(picks, group, correct, attempted, preferred)
    spread = outcome.std(axis=1, ddof=1) / np.sqrt(outcome.shape[1])
    return SelectionEstimate(
        float(outcome[0].mean()), float(outcome[1].mean()), float(spread[0]), float(spread[1])
    )


@lru_cache(maxsize=1 << 12)
def _win_chances(
    sizes: tuple[int, ...], silent: int, k: int, preferred: tuple[bool, ...]
) -> np.ndarray | None:
    """Per group: its expected share of the win over all k-subsets (``None``: too many vote vectors to enumerate).

    It depends on the group sizes only, not on how many voters of a group are correct: the patterns of a summary
    that differ only in correctness (most of them) share it.
    """
    counts, ways = _count_vectors(sizes, silent, k)
    if len(counts) > EXACT_VECTORS:
        return None
    share = _winner_shares(counts, np.array(preferred, dtype=bool))
    weights = ways / ways.sum()
    return weights @ share  # (the estimate's product is (weights @ share) @ right, in this order)


@lru_cache(maxsize=1 << 12)
def _count_vectors(sizes: tuple[int, ...], silent: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every way a k-subset can split its votes over groups of ``sizes`` (``silent`` samples without an answer).

    Returns (vectors x groups vote counts, number of k-subsets giving each vector); a vector stands for all the
    subsets with those counts, whose outcome is the same up to which voters were drawn (symmetric within a group).
    """
    vectors = np.zeros((1, 0), dtype=np.int64)
    ways = np.ones(1)
    for size in sizes:
        taken = np.arange(min(size, k) + 1)
        vectors = np.concatenate(
            [np.repeat(vectors, len(taken), axis=0), np.tile(taken, len(vectors))[:, None]], axis=1
        )
        ways = np.repeat(ways, len(taken)) * np.tile([comb(size, int(t)) for t in taken], len(ways))
        keep = vectors.sum(axis=1) <= k
        vectors, ways = vectors[keep], ways[keep]
        if len(vectors) > EXACT_VECTORS:
            return vectors, ways  # too many: the caller samples subsets instead
    rest = k - vectors.sum(axis=1)
    keep = rest <= silent
    fill = np.array([comb(silent, int(r)) for r in rest[keep]], dtype=float)
    return vectors[keep], ways[keep] * fill


def _winner_shares(votes: np.ndarray, preferred: np.ndarray) -> np.ndarray:
    """Per vote-count vector and group: the group's share of the win (1/t for a tie of t, 0 if it loses)."""
    present = votes > 0
    any_preferred = (present & preferred).any(axis=1)
    eligible = present & (preferred | ~any_preferred[:, None])
    score = np.where(eligible, votes, 0)
    best = score.max(axis=1, keepdims=True) if score.shape[1] else np.zeros((len(score), 1))
    winners = eligible & (score == best) & (best > 0)
    return winners / np.maximum(winners.sum(axis=1, keepdims=True), 1)


def _layout(groups: tuple[Group, ...], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Samples laid out group by group: each sample's group (``len(groups)`` for no answer), correct, attempted."""
    group = np.full(n, len(groups), dtype=np.int64)
    correct = np.zeros(n)
    attempted = np.zeros(n)
    start = 0
    for g, (votes, right, tried, _) in enumerate(groups):
        group[start : start + votes] = g
        correct[start : start + right] = 1.0
        attempted[start : start + tried] = 1.0
        start += votes
    preferred = np.array([g[3] for g in groups] + [False], dtype=bool)
    return group, correct, attempted, preferred


def _subset_outcomes(
    picks: np.ndarray, group: np.ndarray, correct: np.ndarray, attempted: np.ndarray, preferred: np.ndarray
) -> np.ndarray:
    """(2, subsets): the correct and attempted credit of the vote on each subset (rows of sample indices)."""
    width = len(preferred)  # answer groups + one column for samples without an answer
    cells = (group[picks] + width * np.arange(len(picks))[:, None]).ravel()

    def tally(weights: np.ndarray | None) -> np.ndarray:
        w = None if weights is None else weights[picks].ravel()
        return np.bincount(cells, weights=w, minlength=len(picks) * width).reshape(len(picks), width)[:, :-1]

    votes, right, tried = tally(None), tally(correct), tally(attempted)
    share = _winner_shares(votes, preferred[:-1])
    safe = np.maximum(votes, 1.0)
    return np.stack([(share * right / safe).sum(axis=1), (share * tried / safe).sum(axis=1)])


def _random_subsets(n: int, k: int, seed: int) -> np.ndarray:
    """``MONTE_CARLO_DRAWS`` uniform random k-subsets of range(n) as rows of sample indices."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((MONTE_CARLO_DRAWS, n)), axis=1)[:, :k]


def _pattern_seed(groups: tuple[Group, ...], n: int, k: int, seed: int) -> int:
    """A seed that depends only on the vote pattern and the run seed (stable across processes, unlike hash())."""
    digest = hashlib.sha256(repr((groups, n, k, seed)).encode()).digest()
    return int.from_bytes(digest[:8], "little")
