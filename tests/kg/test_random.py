"""Path search against a brute-force reference on random small graphs with parallel edges, hubs and a denied
predicate: the same hop count and exactly the same set of shortest paths for every pair tried. Also the pair-edge
lookup (two one-column VALUES per query, issue 21) against brute force and against the query it replaced."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fs1.kg import PathFinder, SearchSettings, open_kg
from fs1.kg.graph import GraphAccess
from fs1.kg.ids import wd, wdt
from fs1.kg.queries import PREFIXES
from fs1.kg.search import STUCK_NOTE
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


def write_graph(path: Path, claims: list[tuple[str, str, str]]) -> None:
    lines = [f"<{WD}P{i}> <http://wikiba.se/ontology#directClaim> <{WDT}P{i}> ." for i in range(1, 5)]
    lines += [f"<{WD}{s}> <{WDT}{p}> <{WD}{o}> ." for s, p, o in claims]
    lines += [f'<{WD}Q{i}> <{LABEL}> "node {i}"@en .' for i in range(1, 25)]
    path.write_text("\n".join(lines) + "\n")


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
    write_graph(tmp_path / "g.nt", claims)
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
            if got.note == STUCK_NOTE:
                assert got.hops is None and (want_hops or 0) != 1
                continue
            assert got.hops == want_hops, (a, b)
            assert {tuple((e.s, e.p, e.o) for e in p) for p in got.paths} == want, (a, b)
            checked += want_hops is not None
        assert checked > 10  # the graphs are connected enough for the comparison to mean something


def old_pair_edges_query(pairs: list[tuple[str, str]], deny: tuple[str, ...]) -> str:
    """The pair query fs1 sent before issue 21 (two-column VALUES outside a UNION), kept here as a reference."""
    values = " ".join(f"({wd(a)} {wd(b)})" for a, b in pairs)
    not_in = f" FILTER(?p NOT IN ({', '.join(wdt(p) for p in deny)}))" if deny else ""
    return (
        PREFIXES
        + f"SELECT ?s ?p ?o WHERE {{ VALUES (?a ?b) {{ {values} }}\n"
        + "{ ?a ?p ?b . BIND(?a AS ?s) BIND(?b AS ?o) } UNION { ?b ?p ?a . BIND(?b AS ?s) BIND(?a AS ?o) }\n"
        + f'FILTER(STRSTARTS(STR(?p), "{WDT}P")){not_in} }}'
    )


def _by_pair(triples) -> dict[tuple[str, str], set[tuple[str, str, str]]]:
    out: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
    for s, p, o in triples:
        out.setdefault((min(s, o), max(s, o)), set()).add((s, p, o))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_pair_edges_match_brute_force_and_the_old_query(tmp_path: Path, seed: int) -> None:
    claims = random_graph(seed)
    write_graph(tmp_path / "g.nt", claims)
    # pair_batch 5: node sets span several VALUES blocks; overlapping sets and warm adjacencies are covered too.
    settings = SearchSettings(deny=("P4",), pair_batch=5)
    allowed = [c for c in claims if c[1] != "P4"]
    rng = random.Random(200 + seed)
    compared = 0
    with open_kg(f"local:{tmp_path / 'g.nt'}") as kg:
        for trial in range(12):
            # Small sets go as one query over their union, bigger ones as A→B / B→A blocks: both are covered.
            size = (2, 3) if trial % 2 else (rng.randint(1, 12), rng.randint(4, 12))
            a_nodes = [f"Q{x}" for x in rng.sample(range(1, 25), size[0])]
            b_nodes = [f"Q{x}" for x in rng.sample(range(1, 25), size[1])]
            graph = GraphAccess(kg, settings)
            if trial % 3 == 2:
                graph.adjacency(a_nodes[:3], settings.degree_limit)  # some pairs then come from the cache
            got = {k: {(e.s, e.p, e.o) for e in v} for k, v in graph.pair_edges(a_nodes, b_nodes).items()}
            pairs = [(a, b) for a in a_nodes for b in b_nodes if a != b]
            keys = {(min(a, b), max(a, b)) for a, b in pairs}
            brute = _by_pair(c for c in allowed if (min(c[0], c[2]), max(c[0], c[2])) in keys)
            rows = kg.select(old_pair_edges_query(pairs, settings.deny))
            old = _by_pair(
                (r["s"].rsplit("/", 1)[1], r["p"].rsplit("/", 1)[1], r["o"].rsplit("/", 1)[1]) for r in rows
            )
            assert set(got) == keys
            assert {k: v for k, v in got.items() if v} == brute == old
            compared += sum(map(len, brute.values()))
    assert compared > 30  # enough edges found for the comparison to mean something
