"""The all-subsets majority vote of every unit of a summary at once (``fs1.scoring.selection`` decides one pattern).

A unit's **vote pattern** is what ``selection.vote_groups`` builds from its samples: one group per distinct answer,
(votes, correct voters, attempted voters, preferred), sorted. Units with the same pattern and sample count have the
same outcome, and most units share one (all samples agree, ...), so each distinct (pattern, n) is decided once.
The patterns of all units are found with numpy: each group is coded as one integer that sorts as its tuple, each
unit's sorted codes fill one row of a matrix (with n), and the distinct rows are the distinct patterns. (When the codes or
the matrix would be too large, a loop over the groups does the same.)
"""

from __future__ import annotations

import numpy as np

from fs1.scoring.selection import select_at_k

# A unit x groups matrix of group codes larger than this is not built: the patterns are gathered by a loop instead.
_MATRIX_CELLS = 1 << 25

Pattern = tuple[tuple[tuple[int, int, int, bool], ...], int]  # (groups, samples of the unit)


def vote_outcomes(
    unit: np.ndarray,
    answer: np.ndarray,
    correct: np.ndarray,
    attempted: np.ndarray,
    n: np.ndarray,
    ks: list[int],
    seed: int,
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per k: each unit's all-subsets majority vote (correct, attempted, Monte-Carlo error of correct).

    ``unit``, ``answer`` (-1: no answer), ``correct`` and ``attempted`` are per sample; ``n`` per unit.
    """
    patterns, code = distinct_patterns(unit, answer, correct, attempted, n)
    out = {}
    for k in ks:
        estimates = [select_at_k(groups, size, k, seed) for groups, size in patterns]
        table = np.array([(e.correct, e.attempted, e.correct_error) for e in estimates]).reshape(-1, 3)
        out[k] = (table[code, 0], table[code, 1], table[code, 2])
    return out


def distinct_patterns(
    unit: np.ndarray, answer: np.ndarray, correct: np.ndarray, attempted: np.ndarray, n: np.ndarray
) -> tuple[list[Pattern], np.ndarray]:
    """The distinct (pattern, n) of the units and, per unit, the index of its own."""
    group_unit, votes, right, tried = _groups(unit, answer, correct, attempted)
    base = int(n.max()) + 1 if n.size else 1
    most = int(np.bincount(group_unit, minlength=len(n)).max()) if group_unit.size else 0
    if base**3 >= 1 << 62 or len(n) * (most + 1) > _MATRIX_CELLS:
        return _patterns_by_loop(group_unit, votes, right, tried, n)
    codes = (votes * base + right) * base + tried  # sorts as (votes, right, tried)
    order = _sorted_within_units(group_unit, codes, base**3)
    group_unit, codes = group_unit[order], codes[order]
    first = np.searchsorted(group_unit, np.arange(len(n)))  # where each unit's groups start
    rows = np.full((len(n), most + 1), -1, dtype=np.int64)
    rows[group_unit, np.arange(len(codes)) - first[group_unit]] = codes
    rows[:, most] = n
    first, code = _distinct_rows(rows)
    patterns = [(_decode(row[:most], base), int(row[most])) for row in rows[first].tolist()]
    return patterns, code


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the distinct rows of ``rows``: where each first occurs, and per row the index of its distinct row.

    Rows are told apart by a 64-bit polynomial hash, then checked equal to their representative (a sort of one
    number per row instead of a row-wise sort; if two rows ever shared a hash, ``np.unique`` by rows decides).
    """
    digest = np.zeros(len(rows), dtype=np.uint64)
    for column in rows.T:
        digest = digest * np.uint64(1_000_003) + column.astype(np.uint64)  # (wraps around: a hash)
    _, first, code = np.unique(digest, return_index=True, return_inverse=True)
    code = code.reshape(-1)
    if not (rows[first[code]] == rows).all():
        _, first, code = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        code = code.reshape(-1)
    return first, code


def _groups(
    unit: np.ndarray, answer: np.ndarray, correct: np.ndarray, attempted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (unit, answer) group, ordered by unit then answer: its unit, votes, correct and attempted voters."""
    voting = answer >= 0
    unit, answer = unit[voting], answer[voting]
    correct, attempted = correct[voting].astype(np.int64), attempted[voting].astype(np.int64)
    width = int(answer.max()) + 1 if answer.size else 1
    keys, inverse = _distinct_sorted(unit * width + answer)  # one key per (unit, answer)
    votes = np.bincount(inverse, minlength=len(keys))
    right = np.bincount(inverse, weights=correct, minlength=len(keys)).astype(np.int64)
    tried = np.bincount(inverse, weights=attempted, minlength=len(keys)).astype(np.int64)
    return keys // width, votes, right, tried


def _sorted_within_units(unit: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """``np.lexsort((codes, unit))`` for ``unit`` in order and ``0 <= codes < width``: one stable sort of
    ``unit * width + codes``, keys already in order but within each unit (one pass, where lexsort sorts twice)."""
    if unit.size and int(unit[-1]) >= (1 << 62) // width:
        return np.lexsort((codes, unit))
    return np.argsort(unit * width + codes, kind="stable")


def _distinct_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys grouped by unit, in order but within a unit: a stable sort
    takes such keys in about one pass (``np.unique`` sorts them from scratch)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _decode(codes: list[int], base: int) -> tuple[tuple[int, int, int, bool], ...]:
    return tuple((c // (base * base), c // base % base, c % base, False) for c in codes if c >= 0)


def _patterns_by_loop(
    group_unit: np.ndarray, votes: np.ndarray, right: np.ndarray, tried: np.ndarray, n: np.ndarray
) -> tuple[list[Pattern], np.ndarray]:
    order = np.lexsort((tried, right, votes, group_unit))  # per unit, groups sorted as vote_groups sorts them
    groups: list[list] = [[] for _ in range(len(n))]
    for u, v, r, t in zip(
        group_unit[order].tolist(),
        votes[order].tolist(),
        right[order].tolist(),
        tried[order].tolist(),
        strict=True,
    ):
        groups[u].append((v, r, t, False))
    distinct: dict[Pattern, int] = {}
    code = [
        distinct.setdefault((tuple(g), size), len(distinct))
        for g, size in zip(groups, n.tolist(), strict=True)
    ]
    return list(distinct), np.array(code, dtype=np.int64)
