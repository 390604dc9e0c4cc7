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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fs1.kg import queries
from fs1.kg.base import KG, QueryTooCostly, Row
from fs1.kg.batches import ask_blocks, batch_size, chunks, halves, split_pair_block
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


_MORE: Row = {}  # a stand-in row: "more edges than the limit" from a count, where no listing was asked


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _raw_degree(rows: list[Row] | QueryTooCostly) -> int | None:
    """Total of the ``?out``/``?in`` raw counts, or ``None`` when the engine did not give both."""
    if isinstance(rows, QueryTooCostly) or not rows or "out" not in rows[0] or "in" not in rows[0]:
        return None
    try:
        return int(rows[0]["out"]) + int(rows[0]["in"])
    except ValueError:
        return None


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
        # Why a node was judged from a failed or incomplete answer, and those the current question met (its record
        # says so: "complete or says it is not").
        self.failures: dict[str, str] = {}
        self.question_notes: dict[str, str] = {}
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
            if self._hub[node]:
                self._note_failures([node])
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
            if isinstance(rows, QueryTooCostly):
                self._mark_failed_hub(node, "counting its edges", rows)
            else:
                self._hub[node] = int(rows[0]["c"]) > limit if rows and "c" in rows[0] else True
        if len(self._hub) > self._max_cached_edges:
            self._hub.clear()
        found = {n for n in nodes if self.is_hub(n)}
        self._note_failures(found)
        return found

    def adjacency(
        self, nodes: Iterable[str], limit: int, *, hub_on_failure: bool = False
    ) -> dict[str, Adjacency]:
        """Adjacency of each node, fetched with ``LIMIT limit + 1`` when not cached well enough.

        Where the endpoint cuts answers at a row cap below ``limit + 1``, the edges are counted first and listed in
        pages within the cap. A node whose listing the engine gives up on or answers in part comes back as an
        incomplete adjacency: an intermediate (``hub_on_failure``) is then a hub, a question or answer entity is
        only probed by pair lookups (as one above ``endpoint_limit`` is); either way the question says why.
        """
        out: dict[str, Adjacency] = {}
        missing = []
        for node in dict.fromkeys(nodes):
            adj = self._adjacency.get(node)
            if adj is not None and (adj.complete or adj.limit >= limit):
                self._adjacency.move_to_end(node)
                out[node] = adj
                if not adj.complete:
                    self._note_failures([node])
            else:
                missing.append(node)
        cap = self.kg.max_rows
        if cap is not None and limit + 1 > cap:  # a LIMIT above the cap would be cut: page within it
            answers = self._listings_paged(missing, limit, cap)
        else:
            answers = self._listings(missing, limit)
        for node, rows in zip(missing, answers, strict=True):
            if isinstance(rows, QueryTooCostly):
                self._mark_failed_listing(node, rows, hub=hub_on_failure)
                out[node] = self._remember(node, Adjacency((), False, max(limit, self.settings.degree_limit)))
            else:
                out[node] = self._remember(node, self._adjacency_from_rows(node, rows, limit))
        return out

    def _listings(self, nodes: list[str], limit: int) -> list[list[Row] | QueryTooCostly]:
        texts = [queries.adjacency_query(n, self.settings.deny, limit + 1) for n in nodes]
        self.queries += len(texts)
        return self.kg.select_many_or_costly(texts)

    def _listings_paged(self, nodes: list[str], limit: int, cap: int) -> list[list[Row] | QueryTooCostly]:
        """Each node's rows, listed in pages of ``cap`` rows after counting them; a node with more than ``limit``
        edges is not listed (one row more than ``limit`` stands for it, as ``LIMIT limit + 1`` would give)."""
        deny = self.settings.deny
        counts = self.kg.select_many_or_costly([queries.degree_query(n, deny, limit + 1) for n in nodes])
        out: list[list[Row] | QueryTooCostly] = []
        pages: list[tuple[int, str]] = []
        for i, (node, rows) in enumerate(zip(nodes, counts, strict=True)):
            if isinstance(rows, QueryTooCostly):
                out.append(rows)
                continue
            total = int(rows[0].get("c", limit + 1)) if rows else limit + 1
            if total > limit:
                out.append([_MORE] * (limit + 1))
                continue
            out.append([])
            pages += [
                (i, queries.adjacency_page_query(node, deny, cap, start)) for start in range(0, total, cap)
            ]
        self.queries += len(nodes) + len(pages)
        for (i, _), rows in zip(
            pages, self.kg.select_many_or_costly([text for _, text in pages]), strict=True
        ):
            done = out[i]
            if not isinstance(done, QueryTooCostly):
                out[i] = rows if isinstance(rows, QueryTooCostly) else done + rows
        return out

    def _mark_failed_hub(self, node: str, doing: str, failure: QueryTooCostly) -> None:
        self._hub[node] = True
        self.costly_hubs += 1
        self.failures[node] = f"taken for a hub: the KG gave up {doing} ({failure})"
        log.info("%s %s", node, self.failures[node])

    def _mark_failed_listing(self, node: str, failure: QueryTooCostly, *, hub: bool) -> None:
        if hub:
            self._mark_failed_hub(node, "listing its edges", failure)
        else:
            self.failures[node] = (
                f"not listed, only probed by pair lookups: the KG gave up listing its edges ({failure})"
            )
            log.info("%s %s", node, self.failures[node])
        self.question_notes[node] = self.failures[node]

    def _note_failures(self, nodes: Iterable[str]) -> None:
        """Record in the current question's notes the nodes whose verdict came from a failed or partial answer."""
        for node in nodes:
            if node in self.failures:
                self.question_notes[node] = self.failures[node]

    def begin_question(self) -> None:
        """Start collecting the notes of a new question (see ``question_notes``)."""
        self.question_notes = {}

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
        size, deny = self.settings.pair_batch, self.settings.deny
        union = sorted(set(a_nodes) | set(b_nodes))
        if len(union) <= size:
            # Small sets (most calls: one pair, or one node against a few): one query over U × U answers both
            # directions at once, half the requests of the A→B / B→A pair; edges inside A or B are ignored.
            blocks = [(union, union)]
        else:
            blocks = [
                block
                for a_chunk in chunks(a_nodes, size)
                for b_chunk in chunks(b_nodes, size)
                for block in ((a_chunk, b_chunk), (b_chunk, a_chunk))
            ]
        # Each block is the subjects × objects of one query; one answered in part is split and asked again.
        rows, sent = ask_blocks(
            self.kg, blocks, lambda b: queries.pair_edges_queries(b[0], b[1], deny)[0], split_pair_block
        )
        self.queries += sent
        found: dict[tuple[str, str], set[Edge]] = {}
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
        lang = self.settings.language
        found: dict[str, str] = {}
        rows = self._ask_ids(items, lambda c: queries.labels_query(c, lang))
        rows += self._ask_ids(props, lambda c: queries.property_labels_query(c, lang))
        for row in rows:
            ident = term_id(row.get("n") or row.get("p") or "")
            if ident is not None and row.get("l"):
                found.setdefault(ident, row["l"])
        # A property without a wikibase:directClaim link: fall back to the label of its entity wd:P….
        unlabelled = [p for p in props if p not in found]
        for row in self._ask_ids(unlabelled, lambda c: queries.labels_query(c, lang)):
            ident = term_id(row.get("n", ""))
            if ident is not None and row.get("l"):
                found[ident] = row["l"]
        for i in missing:
            self._labels[i] = found.get(i)
        return {i: self._labels[i] for i in wanted}

    def mids_to_qids(self, mids: Iterable[str]) -> dict[str, list[str]]:
        """Items carrying each Freebase MID as P646 (``/m/…`` form); an empty list when unmapped."""
        wanted = list(dict.fromkeys(normalise_mid(m) for m in mids))
        missing = [m for m in wanted if m not in self._mids]
        found: dict[str, set[str]] = {m: set() for m in missing}
        for row in self._ask_ids(missing, queries.mid_query):
            item = qid_from_iri(row.get("item", ""))
            if item is not None and row.get("mid") in found:
                found[row["mid"]].add(item)
        for mid, items in found.items():
            self._mids[mid] = sorted(items, key=lambda q: int(q[1:]))
        return {m: self._mids[m] for m in wanted}

    def _ask_ids(self, ids: list[str], text_of: Callable[[list[str]], str]) -> list[Row]:
        """Rows of a lookup over ``ids`` in VALUES blocks kept below the endpoint's row cap; a block answered in
        part is split and asked again."""
        size = batch_size(self.settings.label_batch, self.kg.max_rows)
        rows, sent = ask_blocks(self.kg, chunks(ids, size), text_of, halves)
        self.queries += sent
        return rows
