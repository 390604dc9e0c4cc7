"""What fs1 knows about each SPARQL engine: how to tell it apart, how it says a query failed, and how it takes a
per-query time limit. Written from the engines' sources and docs (docs/kg.md has the table with the references).

- **Virtuoso** (OpenLink): ``Server: Virtuoso/07.20.…``. Errors are text, first line ``Virtuoso <SQLSTATE> Error
  <code>: <message>``: ``SR171`` (state ``S1T00``, transaction timed out) and ``S1TAT`` (anytime result timeout) are
  timeouts; ``42000`` "The estimated execution time … exceeds the limit" is a refusal on cost; ``40001``
  (deadlock) is transient; everything else (``SP030`` syntax, ``SR341`` bad integer, …) is deterministic. A timeout
  that strikes while the result is being written is *appended to the JSON body* (HTTP 500, or 200 once flushed).
  Time limit: ``timeout=<milliseconds>`` (turns on "anytime" partial answers, see ``fs1.kg.completeness``).
- **QLever**: no ``Server`` header; JSON error documents ``{"status": "ERROR", "exception": …}``; its time limit is
  HTTP **429** with an exception saying "timed out"; an error while streaming ends the body with ``!!!!>>#``.
  Time limit: ``timeout=<N>s``.
- **Blazegraph** (WDQS): HTTP 500 with ``java.util.concurrent.TimeoutException`` (also appended to a 200 body cut
  short); ``MalformedQueryException`` for syntax. Time limit: ``timeout=<whole seconds>`` (can only lower it).
- **Oxigraph**: ``Server: Oxigraph/…``; a timeout is "The SPARQL operation has been cancelled"; no per-query limit
  (the server's ``--timeout-s`` only).
- **Fuseki** (Apache Jena): ``Server: Apache Jena Fuseki (…)``; a timeout is HTTP **503** "Query timed out" (not
  throttling), or ``##  Query cancelled due to timeout`` appended to a 200 body. Time limit: ``timeout=<seconds>``.
- **RDF4J / GraphDB**: a timeout is HTTP 503 "Query evaluation took too long"; syntax ``MALFORMED QUERY``. Time
  limit: ``timeout=<seconds>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

VIRTUOSO, QLEVER, BLAZEGRAPH, OXIGRAPH, FUSEKI, RDF4J, UNKNOWN = (
    "virtuoso",
    "qlever",
    "blazegraph",
    "oxigraph",
    "fuseki",
    "rdf4j",
    "unknown",
)
# How a per-query time limit in whole seconds travels to each engine (URL parameter name and value).
TIMEOUT_PARAMS: dict[str, Callable[[int], tuple[str, str]]] = {
    QLEVER: lambda s: ("timeout", f"{s}s"),
    VIRTUOSO: lambda s: ("timeout", str(s * 1000)),
    BLAZEGRAPH: lambda s: ("timeout", str(s)),
    FUSEKI: lambda s: ("timeout", str(s)),
    RDF4J: lambda s: ("timeout", str(s)),
}
SERVER_HEADERS = (
    (re.compile(r"^virtuoso/(\S+)", re.I), VIRTUOSO),
    (re.compile(r"^oxigraph/(\S+)", re.I), OXIGRAPH),
    (re.compile(r"^apache jena fuseki \(([^)]*)\)", re.I), FUSEKI),
    (re.compile(r"^graphdb[/ ]?(\S*)", re.I), RDF4J),
    (re.compile(r"^rdf4j[/ ]?(\S*)", re.I), RDF4J),
    (re.compile(r"^blazegraph[/ ]?(\S*)", re.I), BLAZEGRAPH),
)
# The first line of a Virtuoso error: "Virtuoso 42000 Error SR171: Transaction timed out".
VIRTUOSO_ERROR = re.compile(r"Virtuoso (\w{5}) Error (?:(\w{2}\d{3}): )?([^\r\n]*)")
# Texts an engine appends to (or puts in) a reply when it stopped a query at its time limit.
TIMEOUT_TEXTS = (
    "TimeoutException",  # Blazegraph / WDQS
    "Query timed out",  # Fuseki (503), Blazegraph
    "Query evaluation took too long",  # RDF4J / GraphDB (503)
    "Query cancelled due to timeout",  # Fuseki, appended to a 200 body
    "The SPARQL operation has been cancelled",  # Oxigraph
    "query timeout",
)
MEMORY_TEXTS = ("Tried to allocate", "OutOfMemoryError", "bad_alloc", "Out of memory")
SYNTAX_TEXTS = ("MalformedQueryException", "MALFORMED QUERY", "Parse error", "Lexical error")
# Markers that start an error message appended to a result body that had already begun (the answer is cut short).
STREAM_MARKERS = (b"!!!!>>#", b"Virtuoso ", b"##  Query cancelled", b"java.util.concurrent.TimeoutException")
TIMEOUT, MEMORY, COSTLY, ERROR, RETRY = "timeout", "memory", "costly", "error", "retry"


@dataclass(frozen=True)
class Verdict:
    """What an error reply means: ``kind`` is timeout | memory | costly (the engine refused or gave up on the
    query's cost) | error (deterministic: never sent again) | retry (transient); ``line``: the engine's words."""

    kind: str
    line: str
    engine: str = UNKNOWN


def engine_from_server(server: str | None) -> tuple[str, str] | None:
    """(engine, version) from a ``Server`` header, or ``None`` when it names no engine fs1 knows."""
    text = (server or "").strip()
    for pattern, engine in SERVER_HEADERS:
        match = pattern.match(text)
        if match:
            return engine, match.group(1).strip()
    return None


def engine_from_error(body: str) -> str | None:
    """The engine whose error shape a reply to a malformed query has (the detection probe of last resort)."""
    if qlever_exception(body) is not None:
        return QLEVER
    if VIRTUOSO_ERROR.search(body):
        return VIRTUOSO
    if "MalformedQueryException" in body and ("bigdata" in body or "blazegraph" in body.lower()):
        return BLAZEGRAPH
    if "MALFORMED QUERY" in body:
        return RDF4J
    if "Parse error" in body or "Lexical error" in body:
        return FUSEKI
    if re.match(r"error at \d+:\d+", body.strip()):
        return OXIGRAPH
    if "MalformedQueryException" in body:
        return BLAZEGRAPH
    return None


def qlever_exception(body: str) -> str | None:
    """The ``exception`` text of a QLever JSON error document (``{"status": "ERROR", "exception": …}``)."""
    if not body.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("exception"), str):
        return doc["exception"]
    return None


def first_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of an engine's message, whitespace collapsed and cut at ``limit`` characters."""
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())[:limit]
    return ""


def says_timeout(text: str) -> bool:
    lowered = text.lower()
    return "timed out" in lowered or "timeout" in lowered or any(t in text for t in TIMEOUT_TEXTS)


def classify_error(status: int, headers: Mapping[str, str], body: str) -> Verdict:
    """What a non-200 reply means. Engine shapes first (each engine's error text is distinctive), then HTTP:
    only 429, 502, 503, 504 without an engine error are transient; any other status is an answer about the
    query and is not sent again."""
    # An engine that failed while writing a result puts its error after the rows: look at both ends of a long body.
    text = body if len(body) <= 40000 else body[:20000] + "\n" + body[-20000:]
    verdict = _qlever(status, text) or _virtuoso(status, text) or _by_text(status, text)
    if verdict is not None:
        return verdict
    if status in (429, 502, 503, 504):
        return Verdict(RETRY, f"HTTP {status}")
    return Verdict(ERROR, first_line(text) or "(empty body)")


def _qlever(status: int, body: str) -> Verdict | None:
    exception = qlever_exception(body)
    if exception is None:
        return None
    line = first_line(exception)
    if any(marker in exception for marker in MEMORY_TEXTS):
        return Verdict(MEMORY, line, QLEVER)
    if status == 429:  # QLever's time limit (a cancellation) is sent as 429 "too many requests"
        return Verdict(TIMEOUT if says_timeout(exception) else ERROR, line, QLEVER)
    return Verdict(TIMEOUT if "timed out" in exception.lower() else ERROR, line, QLEVER)


def _virtuoso(status: int, body: str) -> Verdict | None:
    match = VIRTUOSO_ERROR.search(body)
    if match is None:
        return None
    state, code, message = match.groups()
    line = first_line(match.group(0))
    if state == "S1TAT" or code == "SR171" or state == "S1T00":
        return Verdict(TIMEOUT, line, VIRTUOSO)
    if "estimated execution time" in message:
        return Verdict(COSTLY, line, VIRTUOSO)
    if "out of memory" in message.lower() or code == "SR346":
        return Verdict(MEMORY, line, VIRTUOSO)
    if state in ("40001", "08C01", "08S01"):  # deadlock, lost connection inside the server: worth another try
        return Verdict(RETRY, line, VIRTUOSO)
    return Verdict(ERROR, line, VIRTUOSO)


def _by_text(status: int, body: str) -> Verdict | None:
    """Blazegraph, Fuseki, RDF4J/GraphDB and Oxigraph, told by their words."""
    if any(marker in body for marker in MEMORY_TEXTS):
        return Verdict(MEMORY, _line_with(body, MEMORY_TEXTS))
    if any(marker in body for marker in TIMEOUT_TEXTS):
        return Verdict(TIMEOUT, _line_with(body, TIMEOUT_TEXTS))
    if any(marker in body for marker in SYNTAX_TEXTS):
        return Verdict(ERROR, _line_with(body, SYNTAX_TEXTS))
    return None


def _line_with(text: str, markers: tuple[str, ...]) -> str:
    for line in text.splitlines():
        if any(marker in line for marker in markers):
            return first_line(line)
    return first_line(text)


def stream_error(content: bytes) -> Verdict | None:
    """An error an engine appended to a result body it had already begun sending, or ``None``.

    The rows before it are a part of the answer only, whatever the status says: QLever's ``!!!!>>#``, Virtuoso's
    ``Virtuoso S1TAT Error …`` (its anytime timeout while writing), Fuseki's ``##  Query cancelled``, Blazegraph's
    ``TimeoutException``.
    """
    tail = content[-65536:]
    for at, marker in sorted(((tail.rfind(m), m) for m in STREAM_MARKERS), reverse=True):
        if at < 0:
            break
        text = tail[at:].decode("utf-8", errors="replace")
        if marker == b"Virtuoso ":
            verdict = _virtuoso(500, text)  # "Virtuoso" alone may be a label: only its error line counts
            if verdict is not None:
                return verdict
            continue
        line = first_line(text.lstrip("!>#"))
        if any(m in text for m in MEMORY_TEXTS):
            return Verdict(MEMORY, line)
        return Verdict(TIMEOUT if says_timeout(text) else ERROR, line)
    return None
