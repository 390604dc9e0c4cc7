"""What makes an endpoint's answers valid, found once per run: the engine, its announced limits, the graphs asked.

``detect`` asks at most three tiny queries before any real one: a trivial SELECT (its ``Server`` header names
Virtuoso, Oxigraph, Fuseki, GraphDB; QLever adds a ``meta`` member to its JSON), then, only if that told nothing,
a malformed query whose error text names the engine, then, on Virtuoso, its own settings (``ResultSetMaxRows``,
``MaxQueryExecutionTime``: the SPARQL user may read them with ``bif:virtuoso_ini_item_value``). The profile goes
into the query cache's key (answers cached under other limits, another graph or engine are not reused), the paths
summary and the manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from fs1.kg.engines import (
    BLAZEGRAPH,
    QLEVER,
    TIMEOUT_PARAMS,
    UNKNOWN,
    VIRTUOSO,
    engine_from_error,
    engine_from_server,
)
from fs1.kg.http import Reply

PROBE_QUERY = "SELECT ?x WHERE { VALUES ?x { 1 } }"
MALFORMED_QUERY = "SELECT ?x WHERE {"
# Virtuoso's own limits as its SPARQL endpoint applies them (libsrc/Wi/sparql_io.sql, WS.WS.SPARQL_ENDPOINT): the
# ini values, lowered by per-connection ones where a virtual host sets them.
VIRTUOSO_LIMITS_QUERY = (
    'SELECT (bif:virtuoso_ini_item_value("SPARQL", "ResultSetMaxRows") AS ?rows) '
    '(bif:virtuoso_ini_item_value("SPARQL", "MaxQueryExecutionTime") AS ?secs) '
    '(bif:virtuoso_ini_item_value("SPARQL", "ExecutionTimeout") AS ?dflt) '
    '(bif:connection_get("SPARQL/ResultSetMaxRows") AS ?crows) '
    '(bif:connection_get("SPARQL/MaxQueryExecutionTime") AS ?csecs) WHERE { }'
)
# Virtuoso caps every SPARQL answer at 1024 × 1024 rows when ResultSetMaxRows is unset (its endpoint's maxrows).
VIRTUOSO_DEFAULT_MAX_ROWS = 1024 * 1024
# Virtuoso ignores anytime timeouts under one second: no answer faster than that can have been cut short by one.
VIRTUOSO_MIN_ANYTIME_MS = 1000


@dataclass(frozen=True)
class EndpointProfile:
    """The facts a cached answer depends on, and the limits fs1 must respect when asking.

    ``max_rows``: the most rows one answer may hold (announced by the engine, or declared with
    ``--endpoint-max-rows``; the smaller wins). ``anytime_ms``: Virtuoso only — an answer that took this long may
    be partial, whatever its status (see ``fs1.kg.completeness``).
    """

    url: str
    engine: str = UNKNOWN
    version: str = ""
    detected_by: str = ""
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    announced_max_rows: int | None = None
    declared_max_rows: int | None = None
    anytime_ms: int | None = None
    server_timeout_s: int | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def max_rows(self) -> int | None:
        caps = [c for c in (self.announced_max_rows, self.declared_max_rows) if c]
        return min(caps) if caps else None

    def answers_tag(self) -> str:
        """What an answer's validity depends on: endpoint, graphs, engine and the row caps in force."""
        facts = {
            "url": self.url,
            "engine": self.engine,
            "default_graphs": self.default_graphs,
            "named_graphs": self.named_graphs,
            "max_rows": self.max_rows,
        }
        return _digest(facts)

    def costly_tag(self) -> str:
        """A timeout verdict depends on the time limits too (a hub at 5 s may not be one at 60 s)."""
        return _digest(
            {"answers": self.answers_tag(), "timeout": self.server_timeout_s, "anytime": self.anytime_ms}
        )

    def timeout_params(self) -> list[tuple[str, str]]:
        if self.server_timeout_s is None:
            return []
        return [TIMEOUT_PARAMS[self.engine](self.server_timeout_s)]

    def describe(self) -> dict[str, Any]:
        """The profile as recorded in the paths summary and manifest."""
        out = asdict(self)
        out["max_rows"] = self.max_rows
        out["notes"] = list(self.notes)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=list).encode()).hexdigest()[:16]


Send = Callable[[str], Reply]


def detect_engine(url: str, send: Send, is_wikidata: bool) -> tuple[str, str, str]:
    """(engine, version, how it was told) from the probes; ``unknown`` when nothing told."""
    if is_wikidata:
        return BLAZEGRAPH, "", "host (Wikidata Query Service)"
    reply = send(PROBE_QUERY)
    found = engine_from_server(reply.headers.get("Server"))
    if found is not None:
        return found[0], found[1], "Server header"
    if reply.status == 200 and _has_qlever_meta(reply.content):
        return QLEVER, "", "result format (meta)"
    bad = send(MALFORMED_QUERY)
    engine = engine_from_error(bad.text)
    return (engine, "", "error format") if engine else (UNKNOWN, "", "")


def _has_qlever_meta(content: bytes) -> bool:
    try:
        payload = json.loads(content)
    except ValueError:
        return False
    meta = payload.get("meta") if isinstance(payload, dict) else None
    return isinstance(meta, dict) and "query-time-ms" in meta


def virtuoso_limits(send: Send, client_timeout_s: int | None) -> tuple[int | None, int | None, str]:
    """(max rows, anytime threshold in ms, note) of a Virtuoso endpoint, read from its own settings.

    When they cannot be read, the row cap stays unknown (Virtuoso still announces it with ``X-SPARQL-MaxRows``
    whenever an answer hits it) and the anytime threshold falls to its floor, 1 s: every slower answer then counts
    as possibly partial.
    """
    reply = send(VIRTUOSO_LIMITS_QUERY)
    row = _first_row(reply)
    client_ms = client_timeout_s * 1000 if client_timeout_s else None
    if row is None:
        note = "Virtuoso's limits could not be read: answers slower than 1 s count as possibly partial"
        return None, VIRTUOSO_MIN_ANYTIME_MS, note
    rows = [v for v in (_int(row.get("rows")), _int(row.get("crows"))) if v and v > 0]
    max_rows = min([VIRTUOSO_DEFAULT_MAX_ROWS, *rows])
    secs = [v for v in (_int(row.get("secs")), _int(row.get("csecs")), _int(row.get("dflt"))) if v and v > 0]
    limits_ms = [s * 1000 for s in secs] + ([client_ms] if client_ms else [])
    limits_ms = [ms for ms in limits_ms if ms >= VIRTUOSO_MIN_ANYTIME_MS]
    anytime = min(limits_ms) if limits_ms else None
    return max_rows, anytime, ""


def _first_row(reply: Reply) -> dict[str, str] | None:
    if reply.status != 200:
        return None
    try:
        bindings = json.loads(reply.content)["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        return None
    if not bindings:
        return None
    return {name: term.get("value", "") for name, term in bindings[0].items()}


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


__all__ = ["EndpointProfile", "VIRTUOSO", "detect_engine", "virtuoso_limits"]
