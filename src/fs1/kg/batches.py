"""Queries over batches of ids (VALUES blocks) whose answers must be whole: a block the endpoint answered in part,
cut at its row cap, or gave up on is split in two and asked again, down to single ids (issue 28).

Used for labels, Freebase MID lookups and edges between node sets; ``fs1.kg.graph`` pages long adjacency lists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from fs1.kg.base import KG, QueryTooCostly, Row

log = logging.getLogger(__name__)
Block = TypeVar("Block")


def ask_blocks(
    kg: KG,
    blocks: Sequence[Block],
    text_of: Callable[[Block], str],
    split: Callable[[Block], list[Block]],
) -> tuple[list[Row], int]:
    """All rows of every block, and the number of queries sent. A block whose answer is incomplete (or given up on)
    is replaced by the blocks ``split`` makes of it; one it cannot split any further raises the failure."""
    rows: list[Row] = []
    pending, sent = list(blocks), 0
    while pending:
        results = kg.select_many_results([text_of(block) for block in pending])
        sent += len(pending)
        again: list[Block] = []
        for block, result in zip(pending, results, strict=True):
            if isinstance(result, QueryTooCostly):
                parts = split(block)
                if len(parts) < 2:
                    raise result
                log.info("splitting a batch the KG did not answer whole (%s)", result)
                again.extend(parts)
            else:
                rows.extend(result)
        pending = again
    return rows, sent


def halves(items: list) -> list[list]:
    """``items`` in two halves (one list when it has one item: nothing left to split)."""
    if len(items) < 2:
        return [items]
    middle = len(items) // 2
    return [items[:middle], items[middle:]]


def split_pair_block(block: tuple[list[str], list[str]]) -> list[tuple[list[str], list[str]]]:
    """A block of node pairs ``A × B`` in two, halving its bigger side."""
    a_nodes, b_nodes = block
    if len(a_nodes) >= len(b_nodes) and len(a_nodes) > 1:
        return [(half, b_nodes) for half in halves(a_nodes)]
    if len(b_nodes) > 1:
        return [(a_nodes, half) for half in halves(b_nodes)]
    return [block]


def chunks(items: list, size: int) -> list[list]:
    """``items`` in consecutive lists of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def batch_size(configured: int, max_rows: int | None) -> int:
    """Ids per VALUES block: the configured size, kept below a known row cap (about one row per id is expected)."""
    return configured if max_rows is None else max(1, min(configured, max_rows - 1))
