"""The ``sparql:`` backend against a real ``oxigraph serve`` on 127.0.0.1, directly and through a fault-injecting
proxy: same records as ``local:`` on the same file, 429 + Retry-After honoured, server timeouts surfaced, stalls
retried, bounded retries, POST for long queries, User-Agent, concurrency and rate limits, the on-disk cache."""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import pytest

from fs1.kg import (
    EndpointSettings,
    KGError,
    QueryTimeout,
    SearchSettings,
    bundled_kg_path,
    find_paths,
    open_kg,
)
from fs1.kg.endpoint import DEFAULT_USER_AGENT, SparqlKG, parse_retry_after
from fs1.kg.queries import labels_query
from fs1.records import Question
from tests.fixtures.kg.servers import (
    LABEL_QUERY,
    WDQS_TIMEOUT_BODY,
    Fault,
    FaultProxy,
    OxigraphServer,
    oxigraph_binary,
)
from tests.support.cli import runner

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(oxigraph_binary() is None, reason="oxigraph CLI not installed (dev extra)"),
]


def q(ID: str, q_ents: list[str], a_ents: list[str]) -> Question:
    return Question(ID=ID, question="?", main_answers=["x"], question_entities=q_ents, answer_entities=a_ents)


TINY_QUESTIONS = [
    q("dir", ["Q1"], ["Q4"]),
    q("tie", ["Q8"], ["Q7"]),
    q("hub", ["Q4"], ["Q30"]),
    q("joint", ["Q8", "Q9"], ["Q7"]),
    q("mid", ["m.0bcd1"], ["Q3", "Q20"]),
    q("none", ["Q1"], ["Q10"]),
    q("literal", ["Q1"], []),
]


def records_by_id(path: Path) -> dict[str, dict]:
    return {r["ID"]: without_source(r) for r in map(json.loads, path.read_text().splitlines())}


def without_source(record: dict) -> dict:
    """A record without the fields naming the KG that answered (they differ by design between backends)."""
    return {k: v for k, v in record.items() if k not in ("kg", "kg_date")}


def remote(url: str, **options) -> SparqlKG:
    options = {"cache": False, "rate": 1000.0, "backoff_s": 0.05, "endpoint_engine": "oxigraph", **options}
    return SparqlKG(EndpointSettings(url=url, **options))


def test_same_records_from_local_and_sparql(server: OxigraphServer, tiny_file: Path) -> None:
    settings = SearchSettings(degree_limit=5)
    with open_kg(f"local:{tiny_file}") as local, remote(server.url, concurrency=3) as sparql:
        want = [r.to_dict() for r in find_paths(local, TINY_QUESTIONS, settings=settings)]
        got = [r.to_dict() for r in find_paths(sparql, TINY_QUESTIONS, settings=settings)]
    assert {r["kg"] for r in got} == {f"sparql:{server.url}"} and {r["kg"] for r in want} == {
        f"local:{tiny_file}"
    }
    assert [without_source(r) for r in got] == [without_source(r) for r in want]
    assert [r["status"] for r in got] == ["found", "found", "found", "found", "found", "none", "no_entities"]
    assert got[2]["hops"] == 3  # the hub guard acts the same over HTTP


def test_same_records_on_the_bundled_sample(tmp_path: Path) -> None:
    from fs1.data import load_benchmark

    questions = load_benchmark("sample")
    with (
        OxigraphServer(bundled_kg_path(), tmp_path) as srv,
        open_kg(None) as local,
        remote(srv.url, concurrency=4) as sparql,
    ):
        want = [r.to_dict() for r in find_paths(local, questions)]
        got = [r.to_dict() for r in find_paths(sparql, questions)]
    assert {r["kg"] for r in want} == {"bundled"}
    assert [without_source(r) for r in got] == [without_source(r) for r in want]
    assert sum(r["status"] == "found" for r in got) > 40


def test_429_retry_after_seconds_is_honoured(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=429, retry_after="1", body="Too Many Requests"))
    with remote(proxy.url) as kg:
        assert sorted(r["l"] for r in kg.select(LABEL_QUERY)) == ["Alice", "Alicia"]
    first, second = proxy.requests[0]["t"], proxy.requests[1]["t"]
    assert second - first >= 1.0


def test_429_retry_after_http_date_is_honoured(proxy: FaultProxy) -> None:
    target = int(time.time()) + 2  # HTTP dates have whole seconds
    proxy.faults.append(Fault(status=429, retry_after=email.utils.formatdate(target, usegmt=True)))
    with remote(proxy.url) as kg:
        assert len(kg.select(LABEL_QUERY)) == 2
    assert proxy.requests[1]["wall"] >= target - 0.05  # the retry came no earlier than the date


def test_retry_after_beyond_the_limit_stops_with_a_clear_error(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=429, retry_after="3600"))
    with remote(proxy.url, max_wait_s=60) as kg, pytest.raises(KGError, match="Retry-After 3600"):
        kg.select(LABEL_QUERY)
    assert len(proxy.requests) == 1


def test_server_timeout_is_surfaced_not_retried(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=500, body=WDQS_TIMEOUT_BODY))
    with remote(proxy.url) as kg:
        with pytest.raises(QueryTimeout):
            kg.select(LABEL_QUERY)
        assert len(proxy.requests) == 1
        # Every edge lookup times out: the batch is split down to single pairs, then the question fails.
        proxy.faults.append(Fault(status=500, body=WDQS_TIMEOUT_BODY, when=("VALUES ?s",), times=None))
        (record,) = find_paths(kg, [q("t", ["Q1"], ["Q4"])])
    assert record.status == "error" and "timed out" in record.error


def test_server_errors_are_retried_then_succeed(proxy: FaultProxy) -> None:
    proxy.faults.extend([Fault(status=502), Fault(status=503)])
    with remote(proxy.url) as kg:
        assert len(kg.select(LABEL_QUERY)) == 2
    assert len(proxy.requests) == 3


def test_stalled_reply_times_out_and_is_retried(proxy: FaultProxy) -> None:
    proxy.faults.append(Fault(status=200, body="{}", delay=3.0))
    with remote(proxy.url, timeout_s=0.5) as kg:
        assert len(kg.select(LABEL_QUERY)) == 2
    assert len(proxy.requests) == 2


def test_retries_are_bounded(proxy: FaultProxy) -> None:
    proxy.faults.extend([Fault(status=502)] * 5)
    with remote(proxy.url, retries=2) as kg, pytest.raises(KGError, match="after 3 attempts"):
        kg.select(LABEL_QUERY)
    assert len(proxy.requests) == 3


def test_a_plain_500_is_an_answer_not_retried(proxy: FaultProxy) -> None:
    # Only 429, 502, 503, 504 and dropped connections are transient; a 500 is the server's word on the query.
    proxy.faults.extend([Fault(status=500, body="Internal error: something about the query\nstack ...")] * 5)
    with (
        remote(proxy.url, retries=3) as kg,
        pytest.raises(KGError, match="HTTP 500: Internal error: something"),
    ):
        kg.select(LABEL_QUERY)
    assert len(proxy.requests) == 1


def test_bad_request_is_not_retried(proxy: FaultProxy) -> None:
    with remote(proxy.url) as kg, pytest.raises(KGError, match="HTTP 400"):
        kg.select("SELECT nonsense")
    assert len(proxy.requests) == 1


def test_long_queries_go_by_post_with_the_user_agent(proxy: FaultProxy) -> None:
    ids = [f"Q{i}" for i in range(1, 400)]
    with remote(proxy.url, user_agent="fs1-tests/1.0 (tests@example.org)") as kg:
        rows = kg.select(labels_query(ids, "en"))
        kg.select(LABEL_QUERY)
    assert {r["l"] for r in rows} >= {"Alice", "Bob", "Film A"}
    assert [r["method"] for r in proxy.requests] == ["POST", "GET"]
    assert all(r["headers"]["User-Agent"] == "fs1-tests/1.0 (tests@example.org)" for r in proxy.requests)


def test_concurrency_is_bounded(proxy: FaultProxy) -> None:
    proxy.forward_delay = 0.3
    with remote(proxy.url, concurrency=2) as kg:
        results = kg.select_many([LABEL_QUERY + f" LIMIT {i + 1}" for i in range(6)])
    assert [len(r) for r in results] == [1, 2, 2, 2, 2, 2]
    assert proxy.max_in_flight == 2


def test_rate_limit_spaces_requests(proxy: FaultProxy) -> None:
    with remote(proxy.url, rate=5.0, concurrency=3) as kg:
        kg.select_many([LABEL_QUERY + f" LIMIT {i + 1}" for i in range(5)])
    starts = sorted(r["t"] for r in proxy.requests)
    # Five starts at most 5 per second span at least 0.8 s; arrival jitter is allowed for.
    assert len(starts) == 5 and starts[-1] - starts[0] >= 0.7


def test_answers_are_cached_on_disk(proxy: FaultProxy, tmp_path: Path) -> None:
    questions = TINY_QUESTIONS[:4]
    with remote(proxy.url, cache=True, cache_dir=tmp_path) as kg:
        first = [r.to_dict() for r in find_paths(kg, questions)]
    sent = len(proxy.requests)
    assert sent > 0
    with remote(proxy.url, cache=True, cache_dir=tmp_path) as kg:
        second = [r.to_dict() for r in find_paths(kg, questions)]
    assert second == first
    assert len(proxy.requests) == sent  # nothing asked twice
    assert (tmp_path / "sparql-cache.sqlite").exists()


def test_wdqs_gets_polite_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = "fs1-tests/1.0 (https://example.org/fs1; tests@example.org)"
    monkeypatch.setenv("FS1_USER_AGENT", agent)
    for url in ("", "https://query-scholarly.wikidata.org/sparql", "https://query-main.wikidata.org/sparql"):
        kg = open_kg(f"sparql:{url}", cache=False)
        try:
            assert kg.settings.url == (url or "https://query.wikidata.org/sparql")
            assert (kg.settings.concurrency, kg.settings.rate) == (1, 5.0)
            assert kg._client.headers["User-Agent"] == agent
        finally:
            kg.close()
    monkeypatch.delenv("FS1_USER_AGENT")
    with open_kg("sparql:http://127.0.0.1:9/sparql", cache=False) as other:  # not Wikimedia: nothing required
        assert (other.settings.concurrency, other.settings.rate) == (4, 0.0)  # loopback: no spacing at all
        assert other._client.headers["User-Agent"] == DEFAULT_USER_AGENT
    for host, rate in (("10.1.2.3", 0.0), ("localhost", 0.0), ("[::1]", 0.0), ("qlever.example.org", 20.0)):
        with open_kg(f"sparql:http://{host}:7001/sparql", cache=False) as other:
            assert (other.settings.concurrency, other.settings.rate) == (4, rate), host
    with pytest.raises(ValueError, match="http"):
        open_kg("sparql:ftp://example.org/sparql")


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    now = time.time()
    assert 9 <= parse_retry_after(email.utils.formatdate(now + 10, usegmt=True), now=now) <= 10
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_cli_over_sparql_with_failures_then_retry(proxy: FaultProxy, tiny_file: Path, tmp_path: Path) -> None:

    from fs1.cli.main import app

    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(x.to_dict()) + "\n" for x in TINY_QUESTIONS))
    local_out, remote_out = tmp_path / "local.jsonl", tmp_path / "remote.jsonl"
    common = ["--degree-limit", "5", "--cache-dir", str(tmp_path / "cache")]
    assert (
        runner.invoke(
            app, ["paths", str(bench), "--out", str(local_out), "--kg", f"local:{tiny_file}", *common]
        ).exit_code
        == 0
    )
    # The endpoint fails every request for the first question's first query (1 try + 5 retries), then recovers.
    proxy.faults.append(Fault(status=503, retry_after="0", when=("VALUES ?s", "wd:Q1 wd:Q4"), times=6))
    remote_args = [
        "paths",
        str(bench),
        "--out",
        str(remote_out),
        "--kg",
        f"sparql:{proxy.url}",
        "--rate",
        "1000",
        "--concurrency",
        "1",  # one query at a time, so the six faults all fall on the first question's first query
        *common,
    ]
    failed = runner.invoke(app, remote_args)
    assert failed.exit_code == 1 and "--retry-errors" in failed.output
    statuses = [json.loads(line)["status"] for line in remote_out.read_text().splitlines()]
    assert statuses[0] == "error" and "error" not in statuses[1:]
    retried = runner.invoke(app, [*remote_args, "--resume", "--retry-errors"])
    assert retried.exit_code == 0, retried.output
    assert records_by_id(remote_out) == records_by_id(local_out)
