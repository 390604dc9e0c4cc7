"""Path search against a brute-force reference on random small graphs with parallel edges, hubs and a denied
predicate: the same hop count and exactly the same set of shortest paths for every pair tried."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fs1.kg import PathFinder, SearchSettings, open_kg
from tests.fixtures.kg.graphs import LABEL, WD, WDT


def random_graph(seed: int, nodes: int = 24, edges: int = 46) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    claims = set()
    while len(claims) < edges:
        # Skewed objects make a few hubs; P4 is denied in the search below.
        s = rng.randint(1, nodes)
        o = min(rng.randint(1, nodes), rng.randint(1, nodes), rng.randint(1, nodes))
        if s != o:
            claims.add((f"Q{s}", f"P{rng.randint(1, 4)}", f"Q{o}"))
    return sorted(claims)


def reference_paths(claims, a: str, b: str, settings: SearchSettings) -> tuple[int | None, set]:
    """All simple a→b paths of the fewest hops, intermediates of degree ≤ limit, by exhaustive DFS."""
    allowed = [c for c in claims if c[1] not in settings.deny]
    incident: dict[str, list[tuple[str, str, str]]] = {}
    for c in allowed:
        incident.setdefault(c[0], []).append(c)
        incident.setdefault(c[2], []).append(c)
    degree = {n: len(cs) for n, cs in incident.items()}

    def walk(node: str, left: int, seen: list[str], path: list) -> list[tuple]:
        if left == 0:
            return [tuple(path)] if node == b else []
        out = []
        for c in incident.get(node, []):
            nxt = c[2] if c[0] == node else c[0]
            if nxt in seen or (nxt != b and (left == 1 or degree[nxt] > settings.degree_limit)):
                continue
            out += walk(nxt, left - 1, [*seen, nxt], [*path, c])
        return out

    for hops in range(1, settings.max_hops + 1):
        found = set(walk(a, hops, [a], []))
        if found:
            return hops, found
    return None, set()


@pytest.mark.parametrize(
    ("seed", "max_hops", "endpoint_limit"),
    [(seed, 3, 20000) for seed in range(8)]
    # Deeper searches grow layers beyond the first; a tiny endpoint_limit makes big ends reachable only by probes.
    + [(seed, 4, 20000) for seed in range(8, 11)]
    + [(seed, 3, 4) for seed in range(11, 14)],
)
def test_search_matches_brute_force(tmp_path: Path, seed: int, max_hops: int, endpoint_limit: int) -> None:
    claims = random_graph(seed)
    lines = [f"<{WD}P{i}> <http://wikiba.se/ontology#directClaim> <{WDT}P{i}> ." for i in range(1, 5)]
    lines += [f"<{WD}{s}> <{WDT}{p}> <{WD}{o}> ." for s, p, o in claims]
    lines += [f'<{WD}Q{i}> <{LABEL}> "node {i}"@en .' for i in range(1, 25)]
    (tmp_path / "g.nt").write_text("\n".join(lines) + "\n")
    settings = SearchSettings(
        max_hops=max_hops, degree_limit=6, deny=("P4",), max_paths=10_000, endpoint_limit=endpoint_limit
    )
    rng = random.Random(100 + seed)
    with open_kg(f"local:{tmp_path / 'g.nt'}") as kg:
        finder = PathFinder(kg, settings)
        checked = 0
        for _ in range(60):
            a, b = (f"Q{x}" for x in rng.sample(range(1, 25), 2))
            want_hops, want = reference_paths(claims, a, b, settings)
            got = finder.search.pair(a, b)
            if got.note.startswith("both entities exceed"):
                assert got.hops is None and (want_hops or 0) != 1
                continue
            assert got.hops == want_hops, (a, b)
            assert {tuple((e.s, e.p, e.o) for e in p) for p in got.paths} == want, (a, b)
            checked += want_hops is not None
        assert checked > 10  # the graphs are connected enough for the comparison to mean something
