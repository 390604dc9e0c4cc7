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


class QueryTimeout(KGError):
    """The server gave up on a query (WDQS: HTTP 500 with ``TimeoutException`` in the body)."""


class KG(ABC):
    """A queryable knowledge graph in Wikidata's RDF shape."""

    spec: str = ""

    @abstractmethod
    def select(self, query: str) -> list[Row]:
        """Run one SPARQL SELECT query and return its rows."""

    def select_many(self, queries: Sequence[str]) -> list[list[Row]]:
        """Run several independent queries; results come back in input order (remote backends run them concurrently)."""
        return [self.select(q) for q in queries]

    def close(self) -> None:  # noqa: B027  (optional hook: most backends have nothing to release)
        """Release connections or store handles."""

    def __enter__(self) -> KG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"
