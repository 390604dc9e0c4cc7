"""The SPARQL client's bounds and protocol details against a hostile little HTTP server on 127.0.0.1 (issue 31 item 4,
issue 28 item 3): a gzip bomb stops at the byte cap without inflating past it, an endless body at the cap, a body
trickling one byte at a time at the request deadline; the endpoint URL's own query string and the graphs reach the
server on GET and POST alike; an engine is told apart by its Server header or its error shape."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from fs1.errors import ConfigError
from fs1.kg import QueryTimeout
from fs1.kg.endpoint import EndpointSettings, SparqlKG
from fs1.kg.http import DeadlineExceeded, ResponseTooLarge

ONE_ROW = json.dumps(
    {"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "1"}}]}}
)
Handler = Callable[[BaseHTTPRequestHandler, str, list[tuple[str, str]]], None]


class Hostile:
    """A threaded HTTP server whose every reply is written by ``handler``; records each request's parameters."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Reply(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, body: bytes) -> None:
                query = parse_qsl(urlsplit(self.path).query) + parse_qsl(body.decode())
                outer.requests.append({"method": self.command, "path": self.path, "params": query})
                with contextlib.suppress(
                    BrokenPipeError, ConnectionResetError
                ):  # the client gave up, as intended
                    handler(self, self.command, query)

            def handle(self) -> None:
                with contextlib.suppress(ConnectionResetError):
                    super().handle()

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Reply)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sparql"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture()
def serve() -> Iterator[Callable[[Handler], Hostile]]:
    servers: list[Hostile] = []

    def start(handler: Handler) -> Hostile:
        servers.append(Hostile(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def send(handler: BaseHTTPRequestHandler, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response_only(200)
    handler.send_header("Content-Type", "application/sparql-results+json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def kg(url: str, **options: Any) -> SparqlKG:
    options = {"cache": False, "endpoint_engine": "oxigraph", "backoff_s": 0.01, "retries": 2, **options}
    return SparqlKG(EndpointSettings(url=url, **options))


def test_a_gzip_bomb_stops_at_the_byte_cap_without_inflating_it(serve) -> None:  # noqa: ANN001
    bomb = _gzip_bomb(200)  # 200 MB of blanks, about 200 KB compressed
    server = serve(lambda h, m, q: send(h, bomb, {"Content-Encoding": "gzip"}))
    tracemalloc.start()
    with (
        kg(server.url, max_response_mb=1) as client,
        pytest.raises(ResponseTooLarge, match="larger than 1 MB"),
    ):
        client.select("SELECT ?x WHERE { }")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20  # never more than the cap (and a chunk) in memory, not the 200 MB
    assert len(server.requests) == 1  # the same query would bring the same bomb: not retried


def _gzip_bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    block = b" " * 2**20
    return b"".join([*(packer.compress(block) for _ in range(megabytes)), packer.flush()])


def test_an_endless_body_stops_at_the_byte_cap(serve) -> None:  # noqa: ANN001
    def endless(handler: BaseHTTPRequestHandler, method: str, query: list) -> None:
        handler.send_response_only(200)
        handler.send_header("Content-Type", "application/sparql-results+json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b" " * 65536
        while True:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    server = serve(endless)
    with kg(server.url, max_response_mb=2) as client, pytest.raises(ResponseTooLarge):
        client.select("SELECT ?x WHERE { }")


def test_a_trickling_body_stops_at_the_request_deadline(serve) -> None:  # noqa: ANN001
    def trickle(handler: BaseHTTPRequestHandler, method: str, query: list) -> None:
        handler.send_response_only(200)
        handler.send_header("Content-Type", "application/sparql-results+json")
        handler.send_header("Content-Length", str(10**6))
        handler.end_headers()
        for _ in range(10**6):  # a byte every 50 ms: each read is quick, the whole would take 14 hours
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.05)

    server = serve(trickle)
    start = time.monotonic()
    with (
        kg(server.url, request_deadline=1.5, timeout_s=5) as client,
        pytest.raises(DeadlineExceeded) as caught,
    ):
        client.select("SELECT ?x WHERE { }")
    assert isinstance(caught.value, QueryTimeout) and time.monotonic() - start < 5
    assert len(server.requests) == 1  # a verdict on the query (too slow), not retried


def test_the_urls_own_query_string_and_the_graphs_reach_the_server_on_get_and_post(serve) -> None:  # noqa: ANN001
    server = serve(lambda h, m, q: send(h, ONE_ROW.encode()))
    url = f"{server.url}?default-graph-uri=urn:g:url&key=abc"
    with kg(url, default_graph=["urn:g:one", "urn:g:two"], named_graph=["urn:g:named"]) as client:
        assert client.select("SELECT ?x WHERE { }") == [{"x": "1"}]
        client.select("SELECT ?x WHERE { } # " + "padding " * 300)  # long: goes by POST
    get, post = server.requests
    assert (get["method"], post["method"]) == ("GET", "POST")
    for request in (get, post):
        params = request["params"]
        assert [v for k, v in params if k == "default-graph-uri"] == ["urn:g:url", "urn:g:one", "urn:g:two"]
        assert ("named-graph-uri", "urn:g:named") in params and ("key", "abc") in params
    assert post["path"].endswith("?default-graph-uri=urn:g:url&key=abc")  # kept in the URL, as written
    assert client.profile.default_graphs == ("urn:g:url", "urn:g:one", "urn:g:two")


@pytest.mark.parametrize(
    ("server_header", "error_body", "engine"),
    [
        ("Virtuoso/07.20.3229 (Linux) x86_64-pc-linux-gnu", "", "virtuoso"),
        ("Oxigraph/0.5.13", "", "oxigraph"),
        ("Apache Jena Fuseki (5.1.0)", "", "fuseki"),
        (None, '{"status": "ERROR", "exception": "Invalid SPARQL query: Token \\"}\\""}', "qlever"),
        (None, 'MALFORMED QUERY: Encountered " <EOF> "', "rdf4j"),
        (None, "org.openrdf.query.MalformedQueryException: ... at com.bigdata.rdf", "blazegraph"),
        (None, "nothing to go by", "unknown"),
    ],
)
def test_the_engine_is_told_once_by_its_server_header_or_its_error_shape(
    serve,  # noqa: ANN001
    server_header: str | None,
    error_body: str,
    engine: str,
) -> None:
    def reply(handler: BaseHTTPRequestHandler, method: str, query: list) -> None:
        text = dict(query).get("query", "")
        if text.endswith("{"):  # the malformed probe
            handler.send_response_only(400)
            handler.send_header("Content-Length", str(len(error_body.encode())))
            handler.end_headers()
            handler.wfile.write(error_body.encode())
            return
        send(handler, ONE_ROW.encode(), {"Server": server_header} if server_header else {})

    server = serve(reply)
    with kg(server.url, endpoint_engine=None) as client:
        assert client.profile.engine == engine
        client.select("SELECT ?x WHERE { }")
        client.select("SELECT ?y WHERE { }")
    probes = 1 if server_header else 2
    assert len(server.requests) == probes + 2 + (
        engine == "virtuoso"
    )  # detected once, before the first query


def test_server_timeout_is_refused_where_the_engine_takes_none(serve) -> None:  # noqa: ANN001
    server = serve(lambda h, m, q: send(h, ONE_ROW.encode(), {"Server": "Oxigraph/0.5.13"}))
    refused = "--server-timeout: .* runs oxigraph, which takes no per-query"
    with (
        kg(server.url, endpoint_engine=None, server_timeout=30) as client,
        pytest.raises(ConfigError, match=refused),
    ):
        client.select("SELECT ?x WHERE { }")
