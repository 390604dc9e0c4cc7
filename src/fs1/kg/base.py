"""The knowledge-graph interface every backend implements: run SPARQL SELECT texts, return rows of plain strings.

A row maps each bound variable to the term's value (the IRI, or a literal's lexical form); unbound variables are
absent. Path search (``fs1.kg.search``) is written once over this interface, so the embedded store and any SPARQL
endpoint answer exactly the same queries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from fs1.errors import Fs1Error

Row = dict[str, str]


class KGError(Fs1Error, RuntimeError):
    """A query that could not be answered (transport failure after retries, server error, bad store)."""


class QueryTooCostly(KGError):
    """The engine gave up on a query because of its cost; sending it again would fail the same way."""


class QueryTimeout(QueryTooCostly):
    """The server stopped a query at its time limit (Blazegraph: HTTP 500 + ``TimeoutException``; QLever: HTTP
    429 + a JSON ``exception`` saying "timed out", or its error marker after a 200)."""


class QueryMemoryError(QueryTooCostly):
    """The engine ran out of memory on a query (QLever: "Tried to allocate …"; Java: ``OutOfMemoryError``)."""


class IncompleteAnswer(QueryTooCostly):
    """The endpoint answered with a part of the result only: a row cap it announced (or the user declared) was
    reached, it flagged the answer as partial, or (Virtuoso's anytime mode) it may have cut it short unnoticed.

    Never cached; callers treat it as they treat a timeout (a node becomes a hub, a batch is split and asked again).
    ``cause``: ``cap`` (a row cap was reached: ask differently) or ``partial`` (cut short, as by a timeout).
    """

    def __init__(self, message: str, cause: str = "partial") -> None:
        super().__init__(message)
        self.cause = cause


class KG(ABC):
    """A queryable knowledge graph in Wikidata's RDF shape."""

    spec: str = ""

    @abstractmethod
    def select(self, query: str) -> list[Row]:
        """Run one SPARQL SELECT query and return its rows."""

    def select_many(self, queries: Sequence[str]) -> list[list[Row]]:
        """Run several independent queries; results come back in input order (remote backends run them concurrently)."""
        return [self.select(q) for q in queries]

    def select_many_or_costly(self, queries: Sequence[str]) -> list[list[Row] | QueryTooCostly]:
        """Like ``select_many``, but a query the engine gives up on (``QueryTooCostly``) yields that exception.

        For probes whose failure is itself the answer (a node too big to count is a hub). Remote backends also
        remember such failures, so later runs do not pay for them again.
        """
        return self.select_many_results(queries)

    def select_many_results(self, queries: Sequence[str]) -> list[list[Row] | QueryTooCostly]:
        """Like ``select_many``, but a query the engine gave up on, or answered in part, yields its exception.

        For batches that can be split and asked again; nothing is remembered about the failures.
        """
        out: list[list[Row] | QueryTooCostly] = []
        for query in queries:
            try:
                out.append(self.select(query))
            except QueryTooCostly as exc:
                out.append(exc)
        return out

    @property
    def max_rows(self) -> int | None:
        """The most rows one answer may hold (a cap the endpoint announced or the user declared); None: no cap."""
        return None

    def close(self) -> None:  # noqa: B027  (optional hook: most backends have nothing to release)
        """Release connections or store handles."""

    def __enter__(self) -> KG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"
