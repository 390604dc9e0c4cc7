"""Cached graph primitives over a ``KG``: capped adjacency, edges between node pairs, labels and MID→QID.

Everything path search needs from a KG goes through ``GraphAccess``, which batches the SPARQL of ``fs1.kg.queries``,
checks every returned term again (item IRIs, ``wdt:`` predicates, deny-list) and caches answers across questions:
the graph does not change during a run, and hubs recur in almost every question. A node's adjacency is fetched with
``LIMIT cap + 1``, so a big node is never listed in full; whether a node is a hub is settled by a ``COUNT`` over at
most ``degree_limit + 1`` edges, done inside the engine (about three times cheaper than listing them).

Hubs on full Wikidata: the allowed-edge count filters predicates, so on a class-like node (≈12M ``P31`` edges into
"human") the engine scans everything and may time out. Hence, for intermediates only: a node on the optional known
hub list (``SearchSettings.hub_list``) is a hub without asking; on remote engines an unfiltered count (a range count,
fast on Blazegraph and QLever) first settles every node whose raw degree is within the limit; and a count or
expansion the engine gives up on (timeout, memory) marks the node a hub — remembered in the query cache, so later
runs do not pay for it again. Question and answer entities are never judged this way: a failure there fails the
question.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from fs1.kg import queries
from fs1.kg.base import KG
from fs1.kg.ids import normalise_mid, pid_from_wdt_iri, qid_from_iri, term_id
from fs1.kg.settings import SearchSettings, read_hub_list

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Edge:
    """One stated claim ``s --p--> o`` between two items (bare ids)."""

    s: str
    p: str
    o: str

    def other(self, node: str) -> str:
        """The end of the edge that is not ``node``."""
        return self.o if self.s == node else self.s


@dataclass(frozen=True)
class Adjacency:
    """The allowed edges at a node; ``complete`` is False when it has more than ``limit`` (edges then omitted)."""

    edges: tuple[Edge, ...]
    complete: bool
    limit: int
    by_neighbour: dict[str, tuple[Edge, ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def degree(self) -> int:
        """Number of allowed edges (meaningful only when complete)."""
        return len(self.edges)

    @classmethod
    def of(cls, node: str, edges: Iterable[Edge], limit: int) -> Adjacency:
        """A complete adjacency of ``node`` with its neighbour index."""
        ordered = tuple(sorted(set(edges)))
        index: dict[str, list[Edge]] = {}
        for edge in ordered:
            index.setdefault(edge.other(node), []).append(edge)
        return cls(ordered, True, limit, {k: tuple(v) for k, v in index.items()})


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _raw_degree(rows: list[dict[str, str]] | None) -> int | None:
    """Total of the ``?out``/``?in`` raw counts, or ``None`` when the engine did not give both."""
    if not rows or "out" not in rows[0] or "in" not in rows[0]:
        return None
    try:
        return int(rows[0]["out"]) + int(rows[0]["in"])
    except ValueError:
        return None


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class GraphAccess:
    """Batched, cached access to the allowed item–item edges of a KG."""

    def __init__(self, kg: KG, settings: SearchSettings, *, max_cached_edges: int = 2_000_000) -> None:
        self.kg = kg
        self.settings = settings
        self._deny = frozenset(settings.deny)
        self._adjacency: OrderedDict[str, Adjacency] = OrderedDict()
        self._cached_edges = 0
        self._max_cached_edges = max_cached_edges
        self._pairs: dict[tuple[str, str], tuple[Edge, ...]] = {}
        self._hub: dict[str, bool] = {}
        self._labels: dict[str, str | None] = {}
        self._mids: dict[str, list[str]] = {}
        self._known_hubs = read_hub_list(settings.hub_list) if settings.hub_list else frozenset()
        self.queries = 0
        self.costly_hubs = 0  # nodes found to be hubs because the engine gave up on them
        # Remote engines count one triple pattern from index metadata; the embedded store would scan (fs1.kg.store).
        self.fast_raw_counts = bool(getattr(kg, "fast_raw_counts", False))
        # Relative cost of fetching one adjacency vs. checking one node pair: remote endpoints pack many pairs into
        # one request, the embedded store pays per pair lookup.
        self.pairs_per_fetch = getattr(kg, "pairs_per_fetch", 64)

    # -- adjacency ---------------------------------------------------------------------------------------------
    def cached(self, node: str) -> Adjacency | None:
        """The cached adjacency of ``node``, if any."""
        return self._adjacency.get(node)

    def known_complete(self, node: str, limit: int) -> Adjacency | None:
        """The cached adjacency if it is complete and within ``limit`` edges."""
        adj = self._adjacency.get(node)
        return adj if adj is not None and adj.complete and adj.degree <= limit else None

    def is_hub(self, node: str) -> bool | None:
        """True/False once known (more than ``degree_limit`` allowed edges), ``None`` while unknown."""
        if node in self._known_hubs:
            return True
        if node in self._hub:
            return self._hub[node]
        adj = self._adjacency.get(node)
        if adj is None or (not adj.complete and adj.limit < self.settings.degree_limit):
            return None
        return not adj.complete or adj.degree > self.settings.degree_limit

    def hubs(self, nodes: Iterable[str]) -> set[str]:
        """The hubs among ``nodes`` (intermediates): listed ones, then a raw count, then a capped allowed count.

        A count the engine gives up on (timeout, memory) makes the node a hub.
        """
        limit = self.settings.degree_limit
        nodes = list(dict.fromkeys(nodes))
        unknown = [n for n in nodes if self.is_hub(n) is None]
        if unknown and self.fast_raw_counts:
            texts = [queries.raw_degree_query(n) for n in unknown]
            self.queries += len(texts)
            for node, rows in zip(unknown, self.kg.select_many_or_costly(texts), strict=True):
                raw = _raw_degree(rows)
                if raw is not None and raw <= limit:
                    self._hub[node] = False  # allowed edges are a subset of all triples at the node
            unknown = [n for n in unknown if n not in self._hub]
        texts = [queries.degree_query(n, self.settings.deny, limit + 1) for n in unknown]
        self.queries += len(texts)
        for node, rows in zip(unknown, self.kg.select_many_or_costly(texts), strict=True):
            if rows is None:
                self._mark_costly_hub(node, "counting")
            else:
                self._hub[node] = int(rows[0]["c"]) > limit if rows and "c" in rows[0] else True
        if len(self._hub) > self._max_cached_edges:
            self._hub.clear()
        return {n for n in nodes if self.is_hub(n)}

    def adjacency(
        self, nodes: Iterable[str], limit: int, *, hub_on_failure: bool = False
    ) -> dict[str, Adjacency]:
        """Adjacency of each node, fetched with ``LIMIT limit + 1`` when not cached well enough.

        ``hub_on_failure`` (intermediates only): a node whose listing the engine gives up on comes back as an
        incomplete adjacency and is marked a hub, instead of failing the question.
        """
        out: dict[str, Adjacency] = {}
        missing = []
        for node in dict.fromkeys(nodes):
            adj = self._adjacency.get(node)
            if adj is not None and (adj.complete or adj.limit >= limit):
                self._adjacency.move_to_end(node)
                out[node] = adj
            else:
                missing.append(node)
        texts = [queries.adjacency_query(n, self.settings.deny, limit + 1) for n in missing]
        self.queries += len(texts)
        answers = self.kg.select_many_or_costly(texts) if hub_on_failure else self.kg.select_many(texts)
        for node, rows in zip(missing, answers, strict=True):
            if rows is None:
                self._mark_costly_hub(node, "listing")
                out[node] = self._remember(node, Adjacency((), False, max(limit, self.settings.degree_limit)))
            else:
                out[node] = self._remember(node, self._adjacency_from_rows(node, rows, limit))
        return out

    def _mark_costly_hub(self, node: str, doing: str) -> None:
        self._hub[node] = True
        self.costly_hubs += 1
        log.info("%s taken for a hub: the KG gave up %s its edges (timeout or memory)", node, doing)

    def _adjacency_from_rows(self, node: str, rows: list[dict[str, str]], limit: int) -> Adjacency:
        if len(rows) > limit:
            return Adjacency((), False, limit)
        edges = []
        for row in rows:
            pid, other = pid_from_wdt_iri(row.get("p", "")), qid_from_iri(row.get("n", ""))
            if pid is None or other is None or pid in self._deny or other == node:
                continue
            edges.append(Edge(node, pid, other) if row.get("dir") == queries.OUT else Edge(other, pid, node))
        return Adjacency.of(node, edges, limit)

    def _remember(self, node: str, adj: Adjacency) -> Adjacency:
        old = self._adjacency.pop(node, None)
        if old is not None:
            self._cached_edges -= old.degree
        self._adjacency[node] = adj
        self._cached_edges += adj.degree
        while self._cached_edges > self._max_cached_edges and len(self._adjacency) > 1:
            _, dropped = self._adjacency.popitem(last=False)
            self._cached_edges -= dropped.degree
        return adj

    # -- edges between given node sets ------------------------------------------------------------------------
    def pair_edges(
        self, a_nodes: Iterable[str], b_nodes: Iterable[str]
    ) -> dict[tuple[str, str], tuple[Edge, ...]]:
        """Allowed edges (either direction) for every pair of ``a_nodes × b_nodes``; key = the sorted pair.

        Pairs known from cached adjacencies are not asked; the others are asked as a product of the nodes they
        involve, ``pair_batch`` nodes a side, two queries per block (``queries.pair_edges_queries``). Every pair of
        a block is answered exactly by it, so all are cached, found edges or none.
        """
        a_list, b_list = list(dict.fromkeys(a_nodes)), list(dict.fromkeys(b_nodes))
        out: dict[tuple[str, str], tuple[Edge, ...]] = {}
        ask_a: set[str] = set()
        ask_b: set[str] = set()
        for a in a_list:
            for b in b_list:
                key = _key(a, b)
                if a == b or key in out:
                    continue
                known = self._pair_from_cache(key)
                if known is not None:
                    out[key] = known
                else:
                    ask_a.add(a)
                    ask_b.add(b)
        if ask_a:
            self._ask_pairs(sorted(ask_a), sorted(ask_b))
            for a in ask_a:
                for b in ask_b:
                    if a != b:
                        out[_key(a, b)] = self._pairs[_key(a, b)]
        if len(self._pairs) > 4 * self._max_cached_edges // 10:
            self._pairs.clear()
        return out

    def _ask_pairs(self, a_nodes: list[str], b_nodes: list[str]) -> None:
        """Fetch and cache the edges of every pair in ``a_nodes × b_nodes``."""
        size = self.settings.pair_batch
        union = sorted(set(a_nodes) | set(b_nodes))
        if len(union) <= size:
            # Small sets (most calls: one pair, or one node against a few): one query over U × U answers both
            # directions at once, half the requests of the A→B / B→A pair; edges inside A or B are ignored.
            texts = [queries.pair_edges_queries(union, union, self.settings.deny)[0]]
        else:
            texts = [
                text
                for a_chunk in _chunks(a_nodes, size)
                for b_chunk in _chunks(b_nodes, size)
                for text in queries.pair_edges_queries(a_chunk, b_chunk, self.settings.deny)
            ]
        self.queries += len(texts)
        found: dict[tuple[str, str], set[Edge]] = {}
        for rows in self.kg.select_many(texts):
            for row in rows:
                edge = self._edge_from_row(row)
                if edge is not None:
                    found.setdefault(_key(edge.s, edge.o), set()).add(edge)
        for a in a_nodes:
            for b in b_nodes:
                if a != b:
                    key = _key(a, b)
                    self._pairs[key] = tuple(sorted(found.get(key, ())))

    def _pair_from_cache(self, key: tuple[str, str]) -> tuple[Edge, ...] | None:
        if key in self._pairs:
            return self._pairs[key]
        for node, other in (key, key[::-1]):
            adj = self._adjacency.get(node)
            if adj is not None and adj.complete:
                return adj.by_neighbour.get(other, ())
        return None

    def _edge_from_row(self, row: dict[str, str]) -> Edge | None:
        s, o = qid_from_iri(row.get("s", "")), qid_from_iri(row.get("o", ""))
        pid = pid_from_wdt_iri(row.get("p", ""))
        if s is None or o is None or pid is None or pid in self._deny or s == o:
            return None
        return Edge(s, pid, o)

    # -- labels and ids -----------------------------------------------------------------------------------------
    def labels(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Labels (in the configured language) of item and property ids; ``None`` where the KG has none."""
        wanted = list(dict.fromkeys(ids))
        if len(self._labels) + len(wanted) > self._max_cached_edges:
            self._labels.clear()  # labels are cheap to ask again; memory is not
        missing = [i for i in wanted if i not in self._labels]
        items = [i for i in missing if i.startswith("Q")]
        props = [i for i in missing if i.startswith("P")]
        lang, size = self.settings.language, self.settings.label_batch
        texts = [queries.labels_query(c, lang) for c in _chunks(items, size)]
        texts += [queries.property_labels_query(c, lang) for c in _chunks(props, size)]
        self.queries += len(texts)
        for i in missing:
            self._labels[i] = None
        for rows in self.kg.select_many(texts):
            for row in rows:
                ident = term_id(row.get("n") or row.get("p") or "")
                if ident is not None and row.get("l") and self._labels.get(ident) is None:
                    self._labels[ident] = row["l"]
        # A property without a wikibase:directClaim link: fall back to the label of its entity wd:P….
        unlabelled = [p for p in props if self._labels[p] is None]
        if unlabelled:
            for rows in self.kg.select_many(
                [queries.labels_query(c, lang) for c in _chunks(unlabelled, size)]
            ):
                for row in rows:
                    ident = term_id(row.get("n", ""))
                    if ident is not None and row.get("l"):
                        self._labels[ident] = row["l"]
        return {i: self._labels[i] for i in wanted}

    def mids_to_qids(self, mids: Iterable[str]) -> dict[str, list[str]]:
        """Items carrying each Freebase MID as P646 (``/m/…`` form); an empty list when unmapped."""
        wanted = list(dict.fromkeys(normalise_mid(m) for m in mids))
        missing = [m for m in wanted if m not in self._mids]
        found: dict[str, set[str]] = {m: set() for m in missing}
        texts = [queries.mid_query(c) for c in _chunks(missing, self.settings.label_batch)]
        self.queries += len(texts)
        for rows in self.kg.select_many(texts):
            for row in rows:
                item = qid_from_iri(row.get("item", ""))
                if item is not None and row.get("mid") in found:
                    found[row["mid"]].add(item)
        for mid, items in found.items():
            self._mids[mid] = sorted(items, key=lambda q: int(q[1:]))
        return {m: self._mids[m] for m in wanted}
