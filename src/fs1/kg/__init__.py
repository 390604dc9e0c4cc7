"""Knowledge-graph paths for fs1: KG backends, fewest-hop path search, verbalisation, KG-verified answer support.

Public API (other stages use these names only):

- ``open_kg(spec) -> KG``: ``local:FILE`` / ``local:DIR`` (embedded pyoxigraph) or ``sparql:URL`` (``sparql:`` alone
  = the Wikidata Query Service); ``None`` = the bundled mini-KG.
- ``find_paths(kg, questions, max_hops=3, ...) -> Iterator[PathRecord]``
- ``verbalise(paths) -> str``: ``subject, relation, object`` lines for the fs1 teacher prompt.
- ``supports(kg, question_entities, answer) -> bool``: KG-verified selection.
- ``bundled_kg_path() -> Path``, ``PathFinder``, ``SearchSettings``, ``EndpointSettings``, ``DEFAULT_DENY``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.kg.base import KG, KGError, QueryMemoryError, QueryTimeout, QueryTooCostly
from fs1.kg.ids import EntityIdError
from fs1.kg.settings import DEFAULT_DENY, SearchSettings
from fs1.kg.verbalise import verbalise  # eager: the name is also its submodule's

# Loaded on first use: httpx and the search code stay out of ``fs1 --help`` (the CLI imports ``SearchSettings``).
_LAZY = {
    "WDQS_URL": "fs1.kg.endpoint",
    "EndpointSettings": "fs1.kg.endpoint",
    "PathFinder": "fs1.kg.finder",
    "find_paths": "fs1.kg.finder",
    "supports": "fs1.kg.finder",
    "validate_question_ids": "fs1.kg.finder",
}

LOCAL, SPARQL = "local:", "sparql:"

__all__ = [
    "DEFAULT_DENY",
    "KG",
    "EndpointSettings",
    "EntityIdError",
    "KGError",
    "PathFinder",
    "QueryMemoryError",
    "QueryTimeout",
    "QueryTooCostly",
    "SearchSettings",
    "bundled_kg_path",
    "find_paths",
    "open_kg",
    "supports",
    "validate_question_ids",
    "verbalise",
]


def bundled_kg_path() -> Path:
    """The mini-KG (N-Triples, Wikidata shape) covering the bundled sample benchmark."""
    return Path(__file__).resolve().parent / "bundled" / "mini_kg.nt"


def open_kg(spec: str | None = None, *, cache_dir: Path | None = None, **endpoint_options: Any) -> KG:
    """Open a KG from ``local:FILE|DIR`` or ``sparql:URL``; ``endpoint_options`` go to ``EndpointSettings``."""
    spec = (spec or "").strip() or f"{LOCAL}{bundled_kg_path()}"
    if spec.startswith(LOCAL):
        from fs1.kg.store import open_local

        target = spec[len(LOCAL) :] or str(bundled_kg_path())
        kg = open_local(target, cache_dir=cache_dir)
        if Path(target) == bundled_kg_path():
            kg.spec = "bundled"  # records name it so, not by a path that differs between machines
        return kg
    if spec.startswith(SPARQL):
        from fs1.kg.endpoint import WDQS_URL, EndpointSettings, SparqlKG

        url = spec[len(SPARQL) :] or WDQS_URL
        return SparqlKG(EndpointSettings(url=url, cache_dir=cache_dir, **endpoint_options))
    raise ConfigError(f"unknown KG {spec!r}: expected local:FILE, local:DIR or sparql:URL")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
