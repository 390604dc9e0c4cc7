"""The rules that decide whether an endpoint's reply is the whole answer, and what an error reply means, on the
replies engines really send (Virtuoso's captured from Debian's virtuoso-opensource 7.2.5.1 by the issue 28 work;
QLever's, Blazegraph's, Fuseki's, RDF4J's and Oxigraph's written from their sources, see fs1.kg.engines)."""

from __future__ import annotations

import pytest

from fs1.kg.base import IncompleteAnswer
from fs1.kg.completeness import check, top_limit
from fs1.kg.engines import COSTLY, ERROR, MEMORY, RETRY, TIMEOUT, classify_error, stream_error
from fs1.kg.profile import EndpointProfile

VIRTUOSO = EndpointProfile(
    url="http://v/sparql", engine="virtuoso", announced_max_rows=10000, anytime_ms=1000
)
PLAIN = EndpointProfile(url="http://p/sparql")
ADJACENCY = "SELECT ?dir ?p ?n WHERE { ?s ?p ?n } LIMIT 20001"


def run(query: str, n: int, profile: EndpointProfile = PLAIN, **reply) -> None:
    reply = {"status": 200, "headers": {}, "payload": {}, "elapsed_s": 0.05, **reply}
    check(query, n, profile=profile, **reply)


def test_a_reply_at_the_row_cap_is_incomplete_unless_the_querys_limit_explains_it() -> None:
    with pytest.raises(IncompleteAnswer, match="10000 rows, the endpoint's row cap") as caught:
        run(ADJACENCY, 10000, VIRTUOSO)
    assert caught.value.cause == "cap"
    run(ADJACENCY, 9999, VIRTUOSO)  # below the cap: whole
    run("SELECT ?x WHERE { } LIMIT 10000", 10000, VIRTUOSO)  # the query asked for at most the cap
    run("SELECT ?x WHERE { } ORDER BY ?x LIMIT 5 OFFSET 10", 5, EndpointProfile(url="u", declared_max_rows=5))
    with pytest.raises(IncompleteAnswer):  # announced on the reply itself, the profile knowing nothing
        run("SELECT ?x WHERE { }", 7, headers={"x-sparql-maxrows": "7"})
    with pytest.raises(IncompleteAnswer):  # declared by the user for a gateway that cuts silently
        run("SELECT ?x WHERE { }", 500, EndpointProfile(url="u", declared_max_rows=500))
    assert top_limit("SELECT (COUNT(*) AS ?c) WHERE { SELECT ?x WHERE { } LIMIT 9 }") is None


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 206},
        {"headers": {"x-sql-state": "S1TAT"}},
        {"headers": {"x-sparql-anytime": "timeout=1000; max_timeout=30000"}},
        {"payload": {"meta": {"query-time-ms": 3, "result-size-total": 12}}},  # QLever sent 3 of 12 rows
    ],
)
def test_a_reply_the_engine_flags_partial_is_incomplete(reply: dict) -> None:
    with pytest.raises(IncompleteAnswer) as caught:
        run("SELECT ?x WHERE { }", 3, **reply)
    assert caught.value.cause == "partial"


def test_virtuoso_answers_slower_than_its_anytime_limit_are_not_trusted() -> None:
    # A count cut by anytime mode comes back as HTTP 200 without any flag: only its time gives it away.
    run("SELECT (COUNT(*) AS ?c) WHERE { }", 1, VIRTUOSO, elapsed_s=0.9)
    with pytest.raises(IncompleteAnswer, match="took 1.2 s, beyond Virtuoso's anytime limit of 1 s"):
        run("SELECT (COUNT(*) AS ?c) WHERE { }", 1, VIRTUOSO, elapsed_s=1.2)
    run("SELECT (COUNT(*) AS ?c) WHERE { }", 1, PLAIN, elapsed_s=100.0)  # other engines have no anytime mode


# Replies as Virtuoso 7.2.5.1 sent them (HTTP status, body).
VIRTUOSO_ERRORS = [
    (500, "Virtuoso S1T00 Error SR171: Transaction timed out\n\nSPARQL query:\nSELECT ...", TIMEOUT),
    (
        500,
        '{ "head": ... "value": "in" }\t, {Virtuoso S1TAT Error RC...: Returning incomplete results, query',
        TIMEOUT,
    ),
    (
        500,
        "Virtuoso 42000 Error The estimated execution time 638 (sec) exceeds the limit of 400 (sec).",
        COSTLY,
    ),
    (500, "Virtuoso 22005 Error SR341: Invalid integer value converting '30s'\n\nSPARQL query:", ERROR),
    (400, "Virtuoso 37000 Error SP030: SPARQL compiler, line 0: syntax error", ERROR),
    (500, "Virtuoso 40001 Error SR172: Transaction deadlocked", RETRY),
    (500, "Virtuoso 22003 Error SR346: Out of memory allocation limits", MEMORY),
]
OTHER_ERRORS = [
    (429, '{"status": "ERROR", "exception": "Operation timed out. Last operation: Join"}', TIMEOUT),  # QLever
    (500, '{"status": "ERROR", "exception": "Tried to allocate 166.7 GB"}', MEMORY),  # QLever
    (400, '{"status": "ERROR", "exception": "Invalid SPARQL query"}', ERROR),  # QLever
    (
        500,
        "SPARQL-QUERY: queryStr=...\njava.util.concurrent.TimeoutException\n\tat ...",
        TIMEOUT,
    ),  # Blazegraph
    (400, "org.openrdf.query.MalformedQueryException: Encountered", ERROR),  # Blazegraph
    (503, "Query timed out", TIMEOUT),  # Fuseki: a 503 that is no throttling
    (503, "Query evaluation took too long", TIMEOUT),  # RDF4J / GraphDB
    (500, "The SPARQL operation has been cancelled", TIMEOUT),  # Oxigraph
    (400, "error at 1:7: expected one of ...", ERROR),  # Oxigraph
    (500, "something broke", ERROR),  # no engine words: an answer about the query, not sent again
    (502, "<html>Bad Gateway</html>", RETRY),
    (503, "Service Unavailable", RETRY),
    (504, "", RETRY),
    (429, "Too Many Requests", RETRY),
]


@pytest.mark.parametrize(("status", "body", "kind"), VIRTUOSO_ERRORS + OTHER_ERRORS)
def test_error_replies_are_classified(status: int, body: str, kind: str) -> None:
    verdict = classify_error(status, {}, body)
    assert verdict.kind == kind
    assert verdict.line and "\n" not in verdict.line  # one line, the engine's own first line


def test_errors_appended_to_a_begun_body_are_found_and_labels_are_not_taken_for_them() -> None:
    cut = b'{"results": {"bindings": [{"l": {"value": "Virtuoso (film)"}}, {Virtuoso S1TAT Error RC...: incomplete'
    assert stream_error(cut).kind == TIMEOUT
    fuseki = b'{"results": {"bindings": [\n##  Query cancelled due to timeout during execution   ##\n'
    assert stream_error(fuseki).kind == TIMEOUT
    assert stream_error(b'{"results": {"bindings": [{"l": {"value": "Virtuoso 7 Error list"}}') is None
