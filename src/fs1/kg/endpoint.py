"""The remote backend: a SPARQL 1.1 Protocol client (Virtuoso, QLever, WDQS/Blazegraph, Oxigraph, Fuseki, GraphDB).

What it does with every query (docs/kg.md has the engine table):

- **asks politely** (``fs1.kg.politeness``): GET, or form POST for long queries; JSON results; bounded concurrency
  and request rate; a User-Agent with a contact where Wikimedia requires one; redirects are never followed (httpx
  turns a redirected POST into a body-less GET), a redirect is an error naming its target;
- **reads within bounds** (``fs1.kg.http``): a byte cap on the decoded body and a deadline on the whole request;
- **knows the engine** (``fs1.kg.profile``): detected once, before the first query; the graphs asked and the
  limits the engine announced; ``--server-timeout`` in the engine's own form, refused where it has none;
- **takes no answer for whole unless it is** (``fs1.kg.completeness``): an answer that reached a row cap, was
  flagged partial, or may have been cut by Virtuoso's anytime mode raises ``IncompleteAnswer`` and is never cached;
- **tells errors apart** (``fs1.kg.engines``): a timeout or a refusal on cost is a verdict about the query
  (``QueryTimeout``, ``QueryTooCostly``: the node becomes a hub); any other error the engine names is one line with
  its own words and is never sent again; only 429, 502, 503, 504 and dropped connections are retried, waiting what
  ``Retry-After`` says (every worker pauses: ignoring a 429 gets a client banned), else backing off exponentially.

Answers are cached on disk (``fs1.kg.cache``) under the profile's tag; probes the engine gave up on are remembered
apart (``select_many_or_costly``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field

from fs1.errors import ConfigError
from fs1.kg import completeness
from fs1.kg.base import KG, IncompleteAnswer, KGError, QueryMemoryError, QueryTimeout, QueryTooCostly, Row
from fs1.kg.cache import QueryCache
from fs1.kg.engines import COSTLY, MEMORY, RETRY, TIMEOUT, TIMEOUT_PARAMS, VIRTUOSO, Verdict, classify_error
from fs1.kg.engines import stream_error as engine_stream_error
from fs1.kg.http import ACCEPT_ENCODING, Reply, exchange, with_params
from fs1.kg.politeness import (
    DEFAULT_USER_AGENT,
    RateLimiter,
    default_concurrency,
    default_rate,
    endpoint_host,
    is_wikidata_host,
    user_agent_for,
)
from fs1.kg.profile import EndpointProfile, detect_engine, virtuoso_limits
from fs1.kg.settings import EndpointOptions
from fs1.redact import http_url_problem, redact_url
from fs1.retry_after import retry_after

log = logging.getLogger(__name__)
WDQS_URL = "https://query.wikidata.org/sparql"
RESULTS_JSON = "application/sparql-results+json"
# URLs longer than this go by POST (proxies and servers commonly cap request lines near 8 KB; stay well below).
GET_MAX_URL = 2000
__all__ = [
    "DEFAULT_USER_AGENT",
    "EndpointSettings",
    "SparqlKG",
    "WDQS_URL",
    "endpoint_host",
    "parse_retry_after",
]


class EndpointSettings(EndpointOptions):
    """How a remote SPARQL endpoint is queried: the user's options plus the client's own bounds."""

    url: str = Field(WDQS_URL, description="SPARQL endpoint URL.")
    timeout_s: float = Field(
        70.0, gt=0, description="Longest wait for any one read (WDQS stops queries at 60 s)."
    )
    retries: int = Field(5, ge=0, description="Retries after a dropped connection, 429, 502, 503 or 504.")
    backoff_s: float = Field(
        1.0, ge=0, description="First back-off wait when no Retry-After is given; doubles."
    )
    max_wait_s: float = Field(
        600.0, gt=0, description="Longest Retry-After honoured; a longer one is an error."
    )
    cache_dir: Path | None = Field(
        None, description="Directory of the query cache; None = default cache dir."
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent/garbled."""
    return retry_after(value, now)


def _rows_from_json(payload: dict) -> list[Row]:
    """Rows of a SPARQL JSON results document."""
    bindings = payload["results"]["bindings"]
    return [{name: term["value"] for name, term in binding.items()} for binding in bindings]


class SparqlKG(KG):
    """A KG answered by a SPARQL 1.1 Protocol endpoint."""

    # One request carries hundreds of pair lookups, so bridge edges are looked up rather than fetched (fs1.kg.graph).
    pairs_per_fetch = 400
    # Counts of one triple pattern come from index metadata on WDQS and QLever: hub checks count those first.
    fast_raw_counts = True

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        settings = settings or EndpointSettings()
        problem = http_url_problem(settings.url)
        if problem:
            raise ConfigError(f"SPARQL endpoint {problem}, got {redact_url(settings.url)!r}")
        self.settings = settings.model_copy(
            update={
                "concurrency": settings.concurrency or default_concurrency(settings.url),
                "rate": default_rate(settings.url) if settings.rate is None else settings.rate,
            }
        )
        self.url = self.settings.url
        self.shown_url = redact_url(self.url)  # what records, logs and messages name: no password or key
        self.spec = f"sparql:{self.shown_url}"
        headers = {
            "User-Agent": user_agent_for(self.url, self.settings.user_agent),
            "Accept": RESULTS_JSON,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        timeout = httpx.Timeout(self.settings.timeout_s, connect=min(10.0, self.settings.timeout_s))
        self._client = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False)
        self._limiter = RateLimiter(float(self.settings.rate or 0.0))
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.concurrency or 1, thread_name_prefix="fs1-sparql"
        )
        self._cache: QueryCache | None = None
        if self.settings.cache:
            from fs1.kg.store import default_cache_dir

            self._cache = QueryCache((self.settings.cache_dir or default_cache_dir()) / "sparql-cache.sqlite")
        self._graph_params = [("default-graph-uri", g) for g in self.settings.default_graph]
        self._graph_params += [("named-graph-uri", g) for g in self.settings.named_graph]
        self._profile: EndpointProfile | None = None
        self._profile_lock = threading.Lock()
        self._learned_max_rows: int | None = None
        self._count_lock = threading.Lock()
        self.requests_sent = 0
        self.incomplete_answers = 0

    # -- the endpoint's profile ------------------------------------------------------------------------------------
    @property
    def profile(self) -> EndpointProfile:
        """The engine, graphs and limits, found with a few tiny probes before the first query (once)."""
        with self._profile_lock:
            if self._profile is None:
                self._profile = self._detect()
                if self._cache is not None:
                    self._cache.record_endpoint(self._profile.answers_tag(), self._profile.describe())
            return self._profile

    def _detect(self) -> EndpointProfile:
        s = self.settings

        def send(query: str) -> Reply:
            return self._exchange(query, raw=True, extras=False)

        engine: str
        if s.endpoint_engine:
            engine, version, how = s.endpoint_engine, "", "declared (--endpoint-engine)"
        else:
            engine, version, how = detect_engine(self.url, send, is_wikidata_host(self.url))
        if s.server_timeout is not None and engine not in TIMEOUT_PARAMS:
            raise ConfigError(
                f"--server-timeout: {self.shown_url} runs {engine}, which takes no per-query time limit from a client "
                f"(engines that do: {', '.join(sorted(TIMEOUT_PARAMS))}); set the server's own limit instead"
                + ("" if engine != "unknown" else ", or name the engine with --endpoint-engine")
            )
        announced, anytime, note = (None, None, "")
        if engine == VIRTUOSO:
            announced, anytime, note = virtuoso_limits(send, s.server_timeout)
        url_params = httpx.URL(self.url).params
        profile = EndpointProfile(
            url=self.shown_url,
            engine=engine,
            version=version,
            detected_by=how,
            default_graphs=(*url_params.get_list("default-graph-uri"), *s.default_graph),
            named_graphs=(*url_params.get_list("named-graph-uri"), *s.named_graph),
            announced_max_rows=announced,
            declared_max_rows=s.endpoint_max_rows,
            anytime_ms=anytime,
            server_timeout_s=s.server_timeout,
            notes=(note,) if note else (),
        )
        log.info("%s: %s", self.shown_url, profile.describe())
        return profile

    @property
    def max_rows(self) -> int | None:
        """The row cap in force: announced at detection, declared, or learned from an ``X-SPARQL-MaxRows``."""
        caps = [c for c in (self.profile.max_rows, self._learned_max_rows) if c]
        return min(caps) if caps else None

    def describe(self) -> dict[str, Any]:
        """The profile and this run's traffic, for the paths summary and the manifest."""
        return {
            **self.profile.describe(),
            "learned_max_rows": self._learned_max_rows,
            "requests": self.requests_sent,
            "incomplete_answers": self.incomplete_answers,
            "rate": self.settings.rate,
            "concurrency": self.settings.concurrency,
        }

    # -- queries -----------------------------------------------------------------------------------------------
    def select(self, query: str) -> list[Row]:
        """Answer one query from the cache or the endpoint; only complete answers are cached."""
        tag = self.profile.answers_tag()
        if self._cache is not None:
            cached = self._cache.get(tag, query)
            if cached is not None:
                return cached
        rows = self._answer(query)
        if self._cache is not None:
            self._cache.put(tag, query, rows)
        return rows

    def select_many(self, queries: Sequence[str]) -> list[list[Row]]:
        """Answer several queries with at most ``concurrency`` in flight; results in input order."""
        return self._map(self.select, queries)

    def select_many_or_costly(self, queries: Sequence[str]) -> list[list[Row] | QueryTooCostly]:
        """Like ``select_many``; a query the engine gives up on yields its exception and is remembered."""
        return self._map(self._select_or_costly, queries)

    def select_many_results(self, queries: Sequence[str]) -> list[list[Row] | QueryTooCostly]:
        """Like ``select_many``; a query given up on or answered in part yields its exception (nothing kept)."""
        return self._map(self._select_or_exception, queries)

    def _select_or_exception(self, query: str) -> list[Row] | QueryTooCostly:
        try:
            return self.select(query)
        except QueryTooCostly as exc:
            return exc

    def _select_or_costly(self, query: str) -> list[Row] | QueryTooCostly:
        tag = self.profile.costly_tag()
        if self._cache is not None:
            reason = self._cache.costly(tag, query)
            if reason is not None:
                return QueryTooCostly(reason)  # the same words as when it happened: records do not differ
        try:
            return self.select(query)
        except QueryTooCostly as exc:
            # A cut answer is no verdict on the query's cost (ask differently); a partial one is, as a timeout is.
            if self._cache is not None and getattr(exc, "cause", "") != "cap":
                self._cache.put_costly(tag, query, str(exc))
            return exc

    def _map(self, fn, queries: Sequence[str]) -> list:  # noqa: ANN001
        if len(queries) <= 1 or self.settings.concurrency == 1:
            return [fn(q) for q in queries]
        return list(self._pool.map(fn, queries))

    def _answer(self, query: str) -> list[Row]:
        """Rows of a complete answer, or the error the reply amounts to."""
        reply = self._exchange(query)
        payload, rows = self._parse(reply)
        announced = completeness.announced_cap(reply.headers)
        if announced and announced != self.max_rows:
            self._learned_max_rows = min(c for c in (announced, self._learned_max_rows) if c)
            log.info("%s announces a row cap of %d (X-SPARQL-MaxRows)", self.shown_url, announced)
        try:
            completeness.check(
                query,
                len(rows),
                status=reply.status,
                headers=reply.headers,
                payload=payload,
                elapsed_s=reply.elapsed,
                profile=self.profile,
            )
        except IncompleteAnswer:
            with self._count_lock:
                self.incomplete_answers += 1
            raise
        return rows

    def _exchange(self, query: str, *, raw: bool = False, extras: bool = True) -> Reply:
        """Send with retries of transient failures; the reply (200/206, or any status when ``raw``) or raise."""
        s = self.settings
        params = [("query", query), *self._graph_params]
        if extras:
            params += self.profile.timeout_params()
        post = len(str(with_params(self.url, params))) > GET_MAX_URL
        problem = ""
        for attempt in range(s.retries + 1):
            self._limiter.wait()
            with self._count_lock:
                self.requests_sent += 1
            try:
                reply = exchange(
                    self._client,
                    self.url,
                    params,
                    post=post,
                    max_bytes=int(s.max_response_mb * 2**20),
                    deadline_s=s.request_deadline,
                    shown_url=self.shown_url,
                )
            except httpx.TransportError as exc:
                problem, delay = f"{type(exc).__name__}: {exc}", s.backoff_s * 2**attempt
            else:
                if reply.status in (200, 206):
                    return reply
                verdict = self._verdict(reply)
                if verdict.kind != RETRY:
                    if raw:
                        return reply
                    raise self._error(verdict, reply.status)
                delay, problem = self._retry_delay(reply, attempt), f"HTTP {reply.status}"
            if attempt < s.retries:
                self._limiter.pause(delay)
                time.sleep(delay)
        raise KGError(f"{self.shown_url}: query failed after {s.retries + 1} attempts ({problem})")

    def _verdict(self, reply: Reply) -> Verdict:
        if 300 <= reply.status < 400:
            target = reply.headers.get("Location", "(no Location header)")
            raise KGError(
                f"{self.shown_url}: HTTP {reply.status} redirect to {target}; redirects are not followed (a redirected "
                "POST loses its query): use that URL as the endpoint"
            )
        return classify_error(reply.status, reply.headers, reply.text)

    def _retry_delay(self, reply: Reply, attempt: int) -> float:
        delay = parse_retry_after(reply.headers.get("Retry-After"))
        if delay is None:
            return self.settings.backoff_s * 2**attempt
        if delay > self.settings.max_wait_s:
            raise KGError(
                f"{self.shown_url}: HTTP {reply.status} with Retry-After {delay:.0f} s (over max_wait_s); stopping"
            )
        return delay

    def _error(self, verdict: Verdict, status: int | None, while_sending: bool = False) -> KGError:
        """The exception a verdict amounts to, with the engine's own first line."""
        where = f"HTTP {status}: " if status is not None else ""
        when = " while sending the result" if while_sending else ""
        if verdict.kind == TIMEOUT:
            return QueryTimeout(
                f"{self.shown_url}: the server timed out on the query{when} ({where}{verdict.line})"
            )
        if verdict.kind == MEMORY:
            return QueryMemoryError(
                f"{self.shown_url}: the server ran out of memory on the query ({where}{verdict.line})"
            )
        if verdict.kind == COSTLY:
            return QueryTooCostly(
                f"{self.shown_url}: the server refused the query as too costly ({where}{verdict.line})"
            )
        if (
            status == 429
        ):  # QLever's cancellation (other than its time limit): not throttling, not worth a retry
            return KGError(f"{self.shown_url}: the server cancelled the query ({where}{verdict.line})")
        return KGError(f"{self.shown_url}: the server failed on the query{when} ({where}{verdict.line})")

    def _parse(self, reply: Reply) -> tuple[dict, list[Row]]:
        try:
            payload = json.loads(reply.content)
            return payload, _rows_from_json(payload)
        except (ValueError, KeyError, TypeError) as exc:
            verdict = engine_stream_error(reply.content)
            if verdict is not None:
                raise self._error(verdict, None, while_sending=True) from None
            raise KGError(f"{self.shown_url}: not a SPARQL JSON result ({exc})") from None

    def close(self) -> None:
        """Close the HTTP client, worker pool and cache."""
        self._pool.shutdown(wait=True)
        self._client.close()
        if self._cache is not None:
            self._cache.close()
