"""Questions in, ``PathRecord``s out: entity resolution (MID→QID), pair and joint search, labels, verbalisation.

Also ``supports``: the check the experiment runner uses for KG-verified answer selection (is a candidate answer,
given as a QID/MID or as a label, within a few hops of a question entity?).
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from fs1.kg import queries
from fs1.kg.base import KG, KGError
from fs1.kg.graph import GraphAccess
from fs1.kg.ids import is_mid, is_qid, parse_entity
from fs1.kg.search import EdgePath, PathSearch
from fs1.kg.settings import SearchSettings
from fs1.kg.verbalise import verbalise
from fs1.records import PathRecord, Question, Triple
from fs1.redact import redact_text

FOUND, NONE, NO_ENTITIES, ERROR = "found", "none", "no_entities", "error"
REACH_CACHE_SIZE = 256  # questions whose reachable labels are kept for supports()


def validate_question_ids(question: Question) -> None:
    """Raise ``EntityIdError`` naming the question when any of its entity ids is malformed."""
    for raw in [*question.question_entities, *question.answer_entities]:
        try:
            parse_entity(raw)
        except ValueError as exc:
            raise type(exc)(f"question {question.ID}: {exc}") from None


class PathFinder:
    """Path search for many questions over one KG, with caches shared across them."""

    def __init__(self, kg: KG, settings: SearchSettings | None = None) -> None:
        self.kg = kg
        self.settings = settings or SearchSettings()
        self.graph = GraphAccess(kg, self.settings)
        self.search = PathSearch(self.graph, self.settings)
        self._reach: dict[tuple[tuple[str, ...], int], frozenset[str]] = {}
        self._kg_date: str | None = None
        self._kg_date_asked = False

    def resolve(self, raw_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """QIDs for the given ids (Freebase MIDs mapped through P646), and the ids that map to no item."""
        parsed = [(raw, *parse_entity(raw)) for raw in raw_ids]
        mapping = self.graph.mids_to_qids([value for _, kind, value in parsed if kind == "mid"])
        qids: list[str] = []
        unmapped: list[str] = []
        for raw, kind, value in parsed:
            if kind == "qid":
                qids.append(value)
            elif kind == "mid" and mapping[value]:
                qids.extend(mapping[value])
            else:
                unmapped.append(raw)
        return list(dict.fromkeys(qids)), unmapped

    def record(self, question: Question) -> PathRecord:
        """The ``PathRecord`` of one question; a KG failure gives status ``error`` with the reason."""
        self.graph.begin_question()
        try:
            record = self._record(question)
        except KGError as exc:
            # The reason quotes the endpoint's URL, which may carry a password.
            record = PathRecord(ID=question.ID, status=ERROR, error=redact_text(str(exc)))
        if self.graph.question_notes:
            # Nodes judged from answers the KG gave up on or gave in part: the record says which, and why.
            record.meta["incomplete"] = [
                {"node": node, "why": redact_text(why)}
                for node, why in sorted(self.graph.question_notes.items())
            ]
        record.kg = self.kg.spec
        record.kg_date = self.data_date(ask=record.status != ERROR)
        return record

    def data_date(self, *, ask: bool = True) -> str | None:
        """The data date the KG states (asked once, after a question went well), or ``None``."""
        if ask and not self._kg_date_asked:
            self._kg_date_asked = True
            try:
                dates = sorted(row["d"] for row in self.kg.select(queries.DATA_DATE_QUERY) if row.get("d"))
            except KGError:
                dates = []  # the date is provenance, not worth failing a question over
            self._kg_date = dates[-1] if dates else None
        return self._kg_date

    def _record(self, question: Question) -> PathRecord:
        q_ents, q_unmapped = self.resolve(question.question_entities)
        a_ents, a_unmapped = self.resolve(question.answer_entities)
        meta: dict[str, Any] = {"question_entities": q_ents, "answer_entities": a_ents}
        if q_unmapped or a_unmapped:
            meta["unmapped"] = q_unmapped + a_unmapped
        for given, found, kind in (
            (question.question_entities, q_ents, "question"),
            (question.answer_entities, a_ents, "answer"),
        ):
            if not found:
                why = f"no {kind} entity given" if not given else f"no {kind} entity maps to a KG item"
                if kind == "answer" and not given:
                    why += " (literal answer?)"
                return PathRecord(ID=question.ID, status=NO_ENTITIES, error=why, meta=meta)
        results = [self.search.pair(q, a) for a in a_ents for q in q_ents]
        paths: list[EdgePath] = [p for r in results for p in r.paths]
        joint: list[EdgePath] = []
        if self.settings.joint and len(q_ents) > 1:
            joint = [p for a in a_ents for p in self.search.joint(q_ents, a)]
        meta["pairs"] = [
            {
                "src": r.src,
                "dst": r.dst,
                "hops": r.hops,
                "paths": len(r.paths),
                **({"note": r.note} if r.note else {}),
            }
            for r in results
        ]
        meta["joint_paths"] = len(joint)
        hops = [r.hops for r in results if r.hops is not None]
        if not paths and not joint:
            return PathRecord(ID=question.ID, status=NONE, meta=meta)
        labelled = self.label_paths(paths + joint)
        return PathRecord(
            ID=question.ID,
            status=FOUND,
            hops=min(hops) if hops else None,
            paths=labelled,
            verbalised=verbalise(labelled),
            meta=meta,
        )

    def label_paths(self, paths: list[EdgePath]) -> list[list[dict[str, str]]]:
        """Paths as lists of ``Triple`` dicts with labels (ids where the KG has no label)."""
        ids = {x for path in paths for e in path for x in (e.s, e.p, e.o)}
        labels = self.graph.labels(sorted(ids))
        return [
            [
                Triple(e.s, e.p, e.o, labels[e.s] or e.s, labels[e.p] or e.p, labels[e.o] or e.o).to_dict()
                for e in path
            ]
            for path in paths
        ]

    def supports(self, question_entities: Iterable[str], answer: str, max_hops: int = 2) -> bool:
        """Is ``answer`` (a QID/MID, or a label) 1..``max_hops`` hops from a question entity, hubs excluded?"""
        q_ents, _ = self.resolve(question_entities)
        if not q_ents:
            return False
        text = answer.strip()
        if is_qid(text) or is_mid(text):
            targets, _ = self.resolve([text])
            return any(
                self.search.pair(q, t, max_hops).hops is not None for t in targets for q in q_ents if q != t
            )
        wanted = normalise_label(text)
        return bool(wanted) and wanted in self._reachable_labels(tuple(q_ents), max_hops)

    def _reachable_labels(self, roots: tuple[str, ...], max_hops: int) -> frozenset[str]:
        """Normalised labels of the nodes 1..max_hops hops from ``roots`` (hubs not passed through).

        Cached per question, since selection checks many candidate answers of the same question.
        """
        key = (roots, max_hops)
        if key not in self._reach:
            if len(self._reach) >= REACH_CACHE_SIZE:
                self._reach.pop(next(iter(self._reach)))
            self._reach[key] = frozenset(
                normalise_label(label)
                for label in self.graph.labels(self._reachable(roots, max_hops)).values()
                if label
            )
        return self._reach[key]

    def _reachable(self, roots: tuple[str, ...], max_hops: int) -> list[str]:
        """Nodes 1..max_hops hops from ``roots``, breadth-first; roots too big to list and hubs are not expanded."""
        s = self.settings
        frontier, visited, reached = list(roots), set(roots), []
        for depth in range(1, max_hops + 1):
            if depth > 1:
                frontier = [n for n in frontier if not self.graph.is_hub(n)]
            adjs = self.graph.adjacency(
                frontier, s.endpoint_limit if depth == 1 else s.degree_limit, hub_on_failure=depth > 1
            )
            layer = []
            for node in frontier:
                adj = adjs[node]
                if not adj.complete or (depth > 1 and adj.degree > s.degree_limit):
                    continue
                for other in adj.by_neighbour:
                    if other not in visited:
                        visited.add(other)
                        layer.append(other)
            reached += layer
            frontier = layer
        return reached


def normalise_label(text: str) -> str:
    """Compatibility-normalised, case-folded, whitespace-collapsed text with outer punctuation stripped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\s+", " ", text).strip(" \t.,;:!?\"'()[]")
    return text


def find_paths(
    kg: KG,
    questions: Iterable[Question],
    max_hops: int | None = None,
    settings: SearchSettings | None = None,
    **overrides: Any,
) -> Iterator[PathRecord]:
    """One ``PathRecord`` per question (status found | none | no_entities | error), in input order.

    ``max_hops`` (default: the settings' value, 3) and ``overrides`` (any ``SearchSettings`` field) adjust
    ``settings``. A malformed entity id raises ``EntityIdError`` naming the question.
    """
    base = (settings or SearchSettings()).model_dump()
    if max_hops is not None:
        overrides["max_hops"] = max_hops
    finder = PathFinder(kg, SearchSettings(**{**base, **overrides}))
    for question in questions:
        validate_question_ids(question)
        yield finder.record(question)


_FINDERS: weakref.WeakKeyDictionary[KG, PathFinder] = weakref.WeakKeyDictionary()


def supports(kg: KG | PathFinder, question_entities: Iterable[str], answer: str, max_hops: int = 2) -> bool:
    """Is there a path of 1..``max_hops`` hops from a question entity to ``answer`` (a QID/MID or a label)?

    Label answers match an entity whose label equals the answer after Unicode/case/space normalisation. The
    question entities themselves never count as support. A ``PathFinder`` may be passed to share its caches.
    """
    if isinstance(kg, PathFinder):
        finder = kg
    else:
        finder = _FINDERS.get(kg) or PathFinder(kg)
        _FINDERS[kg] = finder
    return finder.supports(question_entities, answer, max_hops)
