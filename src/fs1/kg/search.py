"""Fewest-hop path search between two entities: bidirectional layered expansion joined by bridge edges.

For a pair (a, b) the search tries 1 hop, then 2, … up to ``max_hops``. Each side keeps BFS layers (node → the
edges to its parents one layer closer to its root). Going from L-1 to L hops expands one side by a layer; the paths
of length L are then ``chain(a→x) + edge(x, y) + chain(y→b)`` for every edge between the two outermost layers —
the "bridge edges" of docs/protocol.md §A.3. Every shortest path has such a middle edge, so all of them are found.

Hub guard: an intermediate node must have at most ``degree_limit`` allowed edges. A node's adjacency is fetched
with ``LIMIT degree_limit + 1``, so a hub is recognised at bounded cost and then neither expanded nor kept on a path.
Question/answer entities may be big (``endpoint_limit``); one bigger still is never listed, only probed by pair
lookups from the other side. Bridge edges come from cached adjacencies where possible, else from batched pair
lookups or by fetching the smaller unknown layer, whichever is cheaper for the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product

from fs1.kg.graph import Adjacency, Edge, GraphAccess
from fs1.kg.settings import SearchSettings

EdgePath = tuple[Edge, ...]
HUB_CHECK_BATCH = 16  # bridge edges whose inner nodes are hub-checked together
# Roots are first listed up to this many edges; a bigger one is listed in full (endpoint_limit) only when the
# search has to grow from it, since a 2-hop path from a small root needs just pair lookups against the big one.
ROOT_PROBE = 256
STUCK_NOTE = (
    "neither entity could be listed (more edges than endpoint_limit, or the KG gave up listing them); "
    "not searched beyond 1 hop"
)


@dataclass
class PairResult:
    """Shortest paths from ``src`` to ``dst``; ``hops`` is None when none exists within the hop limit."""

    src: str
    dst: str
    hops: int | None
    paths: list[EdgePath]
    note: str = ""


@dataclass
class _Side:
    """BFS layers grown from one root: ``layers[d][node]`` = edges from ``node`` to its parents in layer d-1."""

    root: str
    layers: list[dict[str, list[Edge]]] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)
    stuck: bool = False  # the root has more edges than endpoint_limit: it cannot be listed, only probed

    def __post_init__(self) -> None:
        self.layers = [{self.root: []}]
        self.visited = {self.root}

    @property
    def depth(self) -> int:
        return len(self.layers) - 1

    @property
    def frontier(self) -> dict[str, list[Edge]]:
        return self.layers[-1]

    def chains(self, node: str, depth: int) -> Iterator[EdgePath]:
        """Every edge chain from the root to ``node`` (at ``depth``), in root→node order."""
        if depth == 0:
            yield ()
            return
        for edge in sorted(self.layers[depth][node]):
            for head in self.chains(edge.other(node), depth - 1):
                yield (*head, edge)


class PathSearch:
    """Shortest-path and joint-path search over a ``GraphAccess``."""

    def __init__(self, graph: GraphAccess, settings: SearchSettings) -> None:
        self.graph = graph
        self.settings = settings

    # -- pairs -------------------------------------------------------------------------------------------------
    def pair(self, a: str, b: str, max_hops: int | None = None) -> PairResult:
        """All shortest paths a→b (up to ``max_paths``) of at most ``max_hops`` hops."""
        max_hops = max_hops or self.settings.max_hops
        if a == b:
            return PairResult(a, b, None, [], "question entity is the answer")
        direct = self.graph.pair_edges([a], [b])[_key(a, b)]
        if direct:
            singles: list[tuple[Edge, ...]] = [(e,) for e in direct]
            return PairResult(a, b, 1, singles[: self.settings.max_paths])
        sides = (_Side(a), _Side(b))
        self.graph.adjacency([a, b], min(ROOT_PROBE, self.settings.endpoint_limit))
        for hops in range(2, max_hops + 1):
            if not self._expand_one(sides, exclude={a, b}):
                return PairResult(a, b, None, [], STUCK_NOTE)
            paths = self._paths_across(*sides)
            if paths:
                return PairResult(a, b, hops, paths)
        return PairResult(a, b, None, [])

    def _expand_one(self, sides: tuple[_Side, _Side], exclude: set[str]) -> bool:
        """Grow the cheaper expandable side by one layer; False when neither side can grow."""
        for side in sorted(sides, key=self._growth_cost):
            if not side.stuck and self._expand(side, exclude):
                return True
        return False

    def _growth_cost(self, side: _Side) -> tuple[int, int]:
        """Small listed roots first, then big roots, then outer layers (smallest first)."""
        if side.depth == 0:
            adj = self.graph.cached(side.root)
            return (0, adj.degree) if adj is not None and adj.complete else (1, 0)
        return (2, len(side.frontier))

    def _expand(self, side: _Side, exclude: set[str]) -> bool:
        s = self.settings
        frontier = side.frontier
        if side.depth == 0:
            adjs = self.graph.adjacency([side.root], s.endpoint_limit)
            if not adjs[side.root].complete:
                side.stuck = True
                return False
        else:
            for node in self.graph.hubs(list(frontier)):
                del frontier[node]  # a hub is never an intermediate: drop it before it gets children
            adjs = self.graph.adjacency(list(frontier), s.degree_limit, hub_on_failure=True)
            for node in [n for n in frontier if not adjs[n].complete]:
                del frontier[node]  # the engine gave up listing it: a hub after all
        layer: dict[str, list[Edge]] = {}
        for node in frontier:
            for other, edges in adjs[node].by_neighbour.items():
                if other not in side.visited and other not in exclude:
                    layer.setdefault(other, []).extend(edges)
        side.layers.append(layer)
        side.visited.update(layer)
        return True

    def _hub(self, adj: Adjacency) -> bool:
        return not adj.complete or adj.degree > self.settings.degree_limit

    def _paths_across(self, a_side: _Side, b_side: _Side) -> list[EdgePath]:
        """Paths made of a chain to each bridge edge between the outer layers, then a chain to the other root."""
        bridges = sorted(self._bridges(a_side, b_side))
        xs, ys = a_side.frontier, b_side.frontier
        roots = (a_side.root, b_side.root)
        paths: list[EdgePath] = []
        seen: set[EdgePath] = set()
        hubs: set[str] = set()
        for i, edge in enumerate(bridges):
            if i % HUB_CHECK_BATCH == 0:
                # Hub checks cost a query each: make them a batch at a time, stopping once max_paths are found.
                batch = bridges[i : i + HUB_CHECK_BATCH]
                hubs |= self.graph.hubs(sorted({n for e in batch for n in (e.s, e.o) if n not in roots}))
            if edge.s in hubs or edge.o in hubs:
                continue
            for x, y in ((edge.s, edge.o), (edge.o, edge.s)):
                if x not in xs or y not in ys:
                    continue
                for head, tail in product(a_side.chains(x, a_side.depth), b_side.chains(y, b_side.depth)):
                    path = (*head, edge, *reversed(tail))
                    if path not in seen and _is_simple(path, a_side.root):
                        seen.add(path)
                        paths.append(path)
                        if len(paths) >= self.settings.max_paths:
                            return paths
        return paths

    def _usable(self, node: str, depth: int) -> tuple[Adjacency | None, bool]:
        """(adjacency or None, excluded?) for a layer node: roots may be big, intermediates must not be hubs."""
        if depth == 0:
            return self.graph.known_complete(node, self.settings.endpoint_limit), False
        hub = self.graph.is_hub(node)
        if hub:
            return None, True
        # Known not to be a hub, but its edges may not be listed (e.g. fetched earlier as a smaller root).
        return self.graph.known_complete(node, self.settings.degree_limit), False

    def _bridges(self, a_side: _Side, b_side: _Side) -> set[Edge]:
        """Allowed edges between the two outer layers, found the cheapest way available."""
        xs, ys = set(a_side.frontier), set(b_side.frontier)
        found: set[Edge] = set()
        unknown: list[list[str]] = [[], []]
        for k, (nodes, depth, others) in enumerate(((xs, a_side.depth, ys), (ys, b_side.depth, xs))):
            for node in sorted(nodes):
                adj, excluded = self._usable(node, depth)
                if adj is not None:
                    for other in others.intersection(adj.by_neighbour):
                        found.update(adj.by_neighbour[other])
                elif not excluded:
                    unknown[k].append(node)
        xu, yu = unknown
        if not xu or not yu:
            return found
        # A root still unlisted here is big: probe its edges to the other layer instead of listing it.
        if 0 in (a_side.depth, b_side.depth) or max(len(xu), len(yu)) <= self.graph.pairs_per_fetch:
            found.update(e for edges in self.graph.pair_edges(xu, yu).values() for e in edges)
            return found
        fetch, others = (xu, set(yu)) if len(xu) <= len(yu) else (yu, set(xu))
        hubs = self.graph.hubs(fetch)  # a hub can be neither end of a bridge: count it rather than list it
        for adj in self.graph.adjacency(
            [n for n in fetch if n not in hubs], self.settings.degree_limit, hub_on_failure=True
        ).values():
            if not adj.complete:
                continue  # given up on by the engine: a hub after all
            for other in others.intersection(adj.by_neighbour):
                found.update(adj.by_neighbour[other])
        return found

    # -- joint paths -------------------------------------------------------------------------------------------
    def joint(self, question_entities: list[str], answer: str) -> list[EdgePath]:
        """Subgraphs linking every question entity to ``answer`` through one meeting node (the answer first)."""
        roots = [q for q in dict.fromkeys(question_entities) if q != answer]
        if len(roots) < 2 or self.settings.max_joint_paths == 0:
            return []
        direct = self.graph.pair_edges(roots, [answer])
        links = [direct[_key(q, answer)] for q in roots]
        if all(links):
            return [tuple(e for edges in links for e in edges)]
        if self.settings.max_hops < 2:
            return []
        meeting = self._meeting_nodes([*roots, answer])
        paths = []
        for node in meeting[: self.settings.max_joint_paths]:
            edges = self.graph.pair_edges([*roots, answer], [node])
            paths.append(tuple(e for r in [*roots, answer] for e in edges[_key(r, node)]))
        return paths

    def _meeting_nodes(self, ends: list[str]) -> list[str]:
        """Non-hub nodes adjacent to every node of ``ends``."""
        adjs = self.graph.adjacency(ends, self.settings.endpoint_limit)
        listed = [e for e in ends if adjs[e].complete]
        if not listed:
            return []
        pivot = min(listed, key=lambda e: adjs[e].degree)
        candidates = set(adjs[pivot].by_neighbour) - set(ends)
        for end in ends:
            if adjs[end].complete:
                candidates &= set(adjs[end].by_neighbour)
            elif candidates:
                edges = self.graph.pair_edges([end], sorted(candidates))
                candidates = {c for c in candidates if edges[_key(end, c)]}
        hubs = self.graph.hubs(sorted(candidates))
        return sorted(candidates - hubs, key=lambda q: int(q[1:]))


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _is_simple(path: EdgePath, root: str) -> bool:
    """True when walking the path from ``root`` never revisits a node."""
    seen, node = {root}, root
    for edge in path:
        node = edge.other(node)
        if node in seen:
            return False
        seen.add(node)
    return True
