"""The ``sparql:`` backend against the failure shapes of the engines users point it at (QLever, WDQS/Blazegraph),
replayed by the fault-injecting proxy in front of a real ``oxigraph serve``: QLever's 429 timeout and 500 memory
error (one request each, never retried), a 200 cut short by QLever's error marker (an error, nothing cached), a
redirect (a clear error naming the target), a genuine 429 with Retry-After (waited for), hubs found by timeouts
(remembered across runs), the cheap raw count before the filtered one, QLever's ``timeout`` parameter, the
User-Agent rule for Wikimedia hosts, and the shape of every query sent (no two-column VALUES joined onto a UNION)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fs1.kg import (
    EndpointSettings,
    KGError,
    QueryMemoryError,
    QueryTimeout,
    SearchSettings,
    bundled_kg_path,
    find_paths,
    open_kg,
)
from fs1.kg.endpoint import SparqlKG
from fs1.kg.queries import labels_query
from fs1.records import Question
from tests.fixtures.kg.servers import (
    LABEL_QUERY,
    QLEVER_MEMORY_BODY,
    QLEVER_TIMEOUT_BODY,
    QLEVER_TRUNCATED_200,
    Fault,
    FaultProxy,
    OxigraphServer,
    oxigraph_binary,
    qlever_error,
)
from tests.support.cli import runner

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(oxigraph_binary() is None, reason="oxigraph CLI not installed (dev extra)"),
]
HUB_QUESTION = Question(
    ID="hub", question="?", main_answers=["x"], question_entities=["Q4"], answer_entities=["Q30"]
)


def remote(url: str, **overrides) -> SparqlKG:
    # The proxy hides Oxigraph's Server header: the engine is declared, so no probe precedes the counted requests.
    options = {
        "cache": False,
        "rate": 1000.0,
        "backoff_s": 0.05,
        "concurrency": 1,
        "endpoint_engine": "oxigraph",
    }
    options.update(overrides)
    return SparqlKG(EndpointSettings(url=url, **options))


# -- QLever's error shapes ---------------------------------------------------------------------------------------
def test_qlever_timeout_429_is_one_request_and_a_timeout(proxy: FaultProxy) -> None:
    # No Retry-After: QLever's 429 means "your query hit the time limit", not "slow down".
    proxy.faults.append(Fault(status=429, body=QLEVER_TIMEOUT_BODY))
    with remote(proxy.url) as kg, pytest.raises(QueryTimeout, match="timed out.*Operation timed out"):
        kg.select(LABEL_QUERY)
    assert len(proxy.requests) == 1


def test_qlever_timeout_fails_the_question_quickly(proxy: FaultProxy) -> None:
    # Every edge lookup times out: split down to single pairs (each one request), then the question fails.
    proxy.faults.append(Fault(status=429, body=QLEVER_TIMEOUT_BODY, when=("VALUES ?s",), times=None))
    question = Question(
        ID="t", question="?", main_answers=["x"], question_entities=["Q1"], answer_entities=["Q4"]
    )
    with remote(proxy.url) as kg:
        (record,) = find_paths(kg, [question])
    assert record.status == "error" and "timed out" in record.error and "HTTP 429" in record.error


def test_qlever_memory_error_is_not_retried(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=500, body=QLEVER_MEMORY_BODY))
    with remote(proxy.url) as kg, pytest.raises(QueryMemoryError, match="Tried to allocate 166.7 GB"):
        kg.select(LABEL_QUERY)
    assert len(proxy.requests) == 1


def test_other_qlever_error_documents_are_not_retried_but_gateway_errors_are(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=500, body=qlever_error("Not supported: SERVICE to an unknown host")))
    with remote(proxy.url) as kg:
        with pytest.raises(KGError, match="Not supported"):
            kg.select(LABEL_QUERY)
        assert len(proxy.requests) == 1
        proxy.faults.append(Fault(status=502, body="<html>Bad Gateway</html>"))
        assert len(kg.select(LABEL_QUERY)) == 2  # a proxy in front failed: worth one more try
    assert len(proxy.requests) == 3


def test_qlever_cancellation_other_than_timeout_is_an_error_not_throttling(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=429, body=qlever_error("Query was canceled manually")))
    with remote(proxy.url) as kg, pytest.raises(KGError, match="cancelled") as caught:
        kg.select(LABEL_QUERY)
    assert not isinstance(caught.value, QueryTimeout) and len(proxy.requests) == 1


def test_truncated_200_with_qlever_marker_is_an_error_and_not_cached(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.faults.append(Fault(status=200, body=QLEVER_TRUNCATED_200))
    with remote(proxy.url, cache=True, cache_dir=tmp_path) as kg:
        with pytest.raises(QueryTimeout, match="while sending"):
            kg.select(LABEL_QUERY)
        assert len(proxy.requests) == 1
        # Nothing of the cut answer was kept: the same query goes to the server again and gets the real rows.
        assert sorted(r["l"] for r in kg.select(LABEL_QUERY)) == ["Alice", "Alicia"]
    assert len(proxy.requests) == 2


# -- throttling as before ----------------------------------------------------------------------------------------
def test_genuine_429_with_retry_after_still_waits(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=429, retry_after="1", body="Too Many Requests"))
    with remote(proxy.url) as kg:
        assert len(kg.select(LABEL_QUERY)) == 2
    assert len(proxy.requests) == 2 and proxy.requests[1]["t"] - proxy.requests[0]["t"] >= 1.0


def test_plain_429_without_error_document_is_throttling(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=429, body="slow down"))
    with remote(proxy.url) as kg:
        assert len(kg.select(LABEL_QUERY)) == 2  # backed off and retried, as before
    assert len(proxy.requests) == 2


# -- redirects, User-Agent, QLever's timeout parameter -----------------------------------------------------------
def test_redirect_on_post_is_a_clear_error_naming_the_target(proxy: FaultProxy) -> None:
    target = "https://qlever.example.org/api/wikidata"
    proxy.faults.append(Fault(status=301, body="", headers={"Location": target}))
    long_query = labels_query([f"Q{i}" for i in range(1, 400)], "en")
    with remote(proxy.url) as kg, pytest.raises(KGError, match=f"HTTP 301 redirect to {re.escape(target)}"):
        kg.select(long_query)
    assert [r["method"] for r in proxy.requests] == ["POST"]  # not followed, not retried


@pytest.mark.parametrize("agent", [None, "", "my-tool/1.0", "fs1 (no contact given)"])
def test_wikidata_hosts_require_a_user_agent_with_contact(monkeypatch: pytest.MonkeyPatch, agent) -> None:
    monkeypatch.delenv("FS1_USER_AGENT", raising=False)
    for url in ("https://query.wikidata.org/sparql", "https://query-scholarly.wikidata.org/sparql"):
        with pytest.raises(KGError, match="requires a User-Agent with a contact.*FS1_USER_AGENT"):
            SparqlKG(EndpointSettings(url=url, user_agent=agent, cache=False))


def test_cli_without_user_agent_for_wdqs_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:

    from fs1.cli.main import app

    monkeypatch.delenv("FS1_USER_AGENT", raising=False)
    out = tmp_path / "paths.jsonl"
    result = runner.invoke(app, ["paths", "sample", "--out", str(out), "--kg", "sparql:", "--no-cache"])
    assert result.exit_code == 2 and "FS1_USER_AGENT" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_server_timeout_goes_as_qlever_parameter_on_get_and_post(proxy: FaultProxy) -> None:
    long_query = labels_query([f"Q{i}" for i in range(1, 400)], "en")
    with remote(proxy.url, server_timeout=30, endpoint_engine="qlever") as kg:
        kg.select(LABEL_QUERY)
        kg.select(long_query)
    assert [(r["method"], r["params"].get("timeout")) for r in proxy.requests] == [
        ("GET", "30s"),
        ("POST", "30s"),
    ]


# -- hubs on engines that time out ------------------------------------------------------------------------------
# In TINY, Bob(Q4) and Zed(Q30) were both born in Big City (Q20, 12 edges): a 2-hop path through it unless Q20 is a
# hub, else the 3-hop path Bob → Uni → Town ← Zed.
COUNT_Q20 = ("wd:Q20", "COUNT(")


def _hub_probes(proxy: FaultProxy) -> list[str]:
    return [q for q in proxy.queries() if all(t in q for t in COUNT_Q20)]


def test_small_nodes_are_settled_by_the_raw_count(proxy: FaultProxy) -> None:
    with remote(proxy.url) as kg:
        (record,) = find_paths(kg, [HUB_QUESTION], settings=SearchSettings(degree_limit=100))
    assert record.hops == 2  # Q20 has 12 edges: no hub at this limit
    probes = _hub_probes(proxy)
    assert probes and all("?out ?in" in q for q in probes)  # no filtered count was needed


def test_big_raw_count_falls_back_to_the_filtered_count(proxy: FaultProxy) -> None:
    with remote(proxy.url) as kg:
        (record,) = find_paths(kg, [HUB_QUESTION], settings=SearchSettings(degree_limit=5))
    assert record.hops == 3
    assert any("AS ?c" in q for q in _hub_probes(proxy))


def test_timeout_on_a_hub_check_counts_as_hub_and_is_remembered(proxy: FaultProxy, tmp_path: Path) -> None:
    settings = SearchSettings(degree_limit=100)
    # Every count at Q20 times out, as counting Q5's twelve million edges does on WDQS.
    proxy.faults.append(Fault(status=429, body=QLEVER_TIMEOUT_BODY, when=COUNT_Q20, times=None))
    with remote(proxy.url, cache=True, cache_dir=tmp_path) as kg:
        (record,) = find_paths(kg, [HUB_QUESTION], settings=settings)
    assert record.status == "found" and record.hops == 3  # Q20 taken for a hub, the question still answered
    assert len(_hub_probes(proxy)) == 2  # the raw count, then the filtered count: each once
    proxy.faults.clear()
    sent = len(proxy.requests)
    with remote(proxy.url, cache=True, cache_dir=tmp_path) as kg:
        (again,) = find_paths(kg, [HUB_QUESTION], settings=settings)
    assert again.to_dict() == record.to_dict()
    assert len(proxy.requests) == sent  # the verdict came from the cache, nothing asked again
    with remote(proxy.url, cache=True, cache_dir=tmp_path / "fresh") as kg:
        (healthy,) = find_paths(kg, [HUB_QUESTION], settings=settings)
    assert healthy.hops == 2  # without the timeouts Q20 is no hub: the verdict really came from them


def test_timeout_while_expanding_an_intermediate_counts_as_hub(proxy: FaultProxy) -> None:
    # Is "Town" within 3 hops of person Q100? Only through Big City (Q20) → Zed → Town. Listing Q20's edges times
    # out: Q20 is then a hub that is not passed through — an answer of "no", not a failed check.
    from fs1.kg import PathFinder

    settings = SearchSettings(degree_limit=100)
    listing = Fault(
        status=500, body="java.util.concurrent.TimeoutException", when=("wd:Q20", "LIMIT"), times=None
    )
    proxy.faults.append(listing)
    with remote(proxy.url) as kg:
        assert PathFinder(kg, settings).supports(["Q100"], "Town", max_hops=3) is False
    assert [q for q in proxy.queries() if listing.matches(q)]  # the timeout was really met
    proxy.faults.clear()
    with remote(proxy.url) as kg:
        assert PathFinder(kg, settings).supports(["Q100"], "Town", max_hops=3) is True


def test_shipped_or_given_hub_list(tmp_path: Path, tiny_file: Path) -> None:
    listed = tmp_path / "hubs.txt"
    listed.write_text("# big ones\nQ20  # Big City\n")
    with open_kg(f"local:{tiny_file}") as kg:
        (free,) = find_paths(kg, [HUB_QUESTION], settings=SearchSettings(degree_limit=100))
        (guarded,) = find_paths(
            kg, [HUB_QUESTION], settings=SearchSettings(degree_limit=100, hub_list=str(listed))
        )
        (shipped,) = find_paths(kg, [HUB_QUESTION], settings=SearchSettings(hub_list="wikidata"))
    assert (free.hops, guarded.hops) == (2, 3)
    # Zed (Q30) shares its id with the USA on the shipped list; an answer entity is never judged a hub.
    assert shipped.status == "found" and shipped.hops == 2
    listed.write_text("Q20\nQ2x\n")
    with open_kg(f"local:{tiny_file}") as kg, pytest.raises(ValueError, match=r"hubs.txt:2: .*invalid"):
        list(find_paths(kg, [HUB_QUESTION], settings=SearchSettings(hub_list=str(listed))))


# -- what is sent ------------------------------------------------------------------------------------------------
MULTI_COLUMN_VALUES = re.compile(r"VALUES\s*\(\s*\?\w+\s+\?\w+")


def test_no_query_joins_a_two_column_values_onto_a_union(tmp_path: Path) -> None:
    """Every query of a full run over the bundled sample, as the endpoint received it."""
    from fs1.data import load_benchmark

    with OxigraphServer(bundled_kg_path(), tmp_path) as srv, FaultProxy(srv.url) as prx:
        with remote(prx.url, concurrency=4) as kg:
            records = list(find_paths(kg, load_benchmark("sample")))
        sent = prx.queries()
    assert sum(r.status == "found" for r in records) > 40
    offending = [q for q in sent if MULTI_COLUMN_VALUES.search(q) and "UNION" in q]
    assert offending == []
    assert not any(MULTI_COLUMN_VALUES.search(q) for q in sent)
    pair_queries = [q for q in sent if re.search(r"VALUES \?s \{[^}]*\}\s*VALUES \?o", q)]
    assert pair_queries and all("UNION" not in q for q in pair_queries)


def test_records_name_the_endpoint_and_the_data_date(tmp_path: Path, tiny_file: Path) -> None:
    dated = tmp_path / "dated.nt"
    dated.write_text(
        tiny_file.read_text()
        + '<http://wikiba.se/ontology#Dump> <http://schema.org/dateModified> "2026-05-01T23:00:01Z"'
        + "^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
    )
    with OxigraphServer(dated, tmp_path) as srv, remote(srv.url) as kg:
        (record,) = find_paths(kg, [HUB_QUESTION])
    assert record.kg == f"sparql:{srv.url}" and record.kg_date == "2026-05-01T23:00:01Z"
    row = json.loads(json.dumps(record.to_dict()))
    assert row["kg"] == record.kg  # written with the record
    with open_kg(f"local:{tiny_file}") as kg:
        (undated,) = find_paths(kg, [HUB_QUESTION])
    assert undated.kg == f"local:{tiny_file}" and undated.kg_date is None
