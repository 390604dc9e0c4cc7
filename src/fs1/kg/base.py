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


class KG(ABC):
    """A queryable knowledge graph in Wikidata's RDF shape."""

    spec: str = ""

    @abstractmethod
    def select(self, query: str) -> list[Row]:
        """Run one SPARQL SELECT query and return its rows."""

    def select_many(self, queries: Sequence[str]) -> list[list[Row]]:
        """Run several independent queries; results come back in input order (remote backends run them concurrently)."""
        return [self.select(q) for q in queries]

    def select_many_or_costly(self, queries: Sequence[str]) -> list[list[Row] | None]:
        """Like ``select_many``, but a query the engine gives up on (``QueryTooCostly``) yields ``None``.

        For probes whose failure is itself the answer (a node too big to count is a hub). Remote backends also
        remember such failures, so later runs do not pay for them again.
        """
        out: list[list[Row] | None] = []
        for query in queries:
            try:
                out.append(self.select(query))
            except QueryTooCostly:
                out.append(None)
        return out

    def close(self) -> None:  # noqa: B027  (optional hook: most backends have nothing to release)
        """Release connections or store handles."""

    def __enter__(self) -> KG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"
