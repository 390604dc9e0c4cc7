"""The remote backend: a SPARQL 1.1 Protocol client (WDQS, QLever, ``oxigraph serve``) built on httpx.

Policy it follows (docs/protocol.md §A.1): a descriptive User-Agent (``FS1_USER_AGENT`` or the ``user_agent`` setting);
GET, or form-encoded POST for long queries; JSON results; bounded concurrency and a request-rate limit; on 429/503
it waits exactly what ``Retry-After`` says (seconds or an HTTP date) and pauses every worker, since ignoring a 429
gets a client banned; other 5xx and transport errors are retried with exponential back-off a bounded number of
times, then raised. A server-side timeout (HTTP 500 with ``TimeoutException`` in the body) raises ``QueryTimeout``
at once: the same query would time out again. Answers are cached on disk (``fs1.kg.cache``).
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from fs1.errors import ConfigError
from fs1.kg.base import KG, KGError, QueryTimeout, Row
from fs1.kg.cache import QueryCache

WDQS_URL = "https://query.wikidata.org/sparql"
USER_AGENT_ENV = "FS1_USER_AGENT"
DEFAULT_USER_AGENT = (
    "fs1/0.1 (KG path retrieval for arXiv:2505.11140; set FS1_USER_AGENT to add a contact) httpx"
)
RESULTS_JSON = "application/sparql-results+json"
# URLs longer than this go by POST (proxies and servers commonly cap request lines near 8 KB; stay well below).
GET_MAX_URL = 2000
TIMEOUT_MARKERS = ("TimeoutException", "Query timed out", "query timeout")


class EndpointSettings(BaseModel):
    """How a remote SPARQL endpoint is queried."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(WDQS_URL, description="SPARQL endpoint URL.")
    user_agent: str | None = Field(
        None, description="User-Agent; default $FS1_USER_AGENT, else a descriptive fs1 one."
    )
    timeout_s: float = Field(
        70.0, gt=0, description="Client read timeout (WDQS itself stops queries at 60 s)."
    )
    retries: int = Field(
        5, ge=0, description="Retries after a transport error, 429, or 5xx before giving up."
    )
    backoff_s: float = Field(
        1.0, ge=0, description="First back-off wait when no Retry-After is given; doubles."
    )
    max_wait_s: float = Field(
        600.0, gt=0, description="Longest Retry-After honoured; a longer one is an error."
    )
    concurrency: int | None = Field(
        None, ge=1, description="Queries in flight at once; default 1 for WDQS (its policy), 4 elsewhere."
    )
    rate: float | None = Field(
        None, gt=0, description="Most requests started per second; default 5 for WDQS, 100 elsewhere."
    )
    cache_dir: Path | None = Field(
        None, description="Directory of the query cache; None = default cache dir."
    )
    cache: bool = Field(True, description="Keep answered queries on disk and reuse them.")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


class RateLimiter:
    """Spaces request starts at least ``1/rate`` apart across threads; ``pause`` holds everyone back (429)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may start a request."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)

    def pause(self, seconds: float) -> None:
        """No request may start within the next ``seconds``."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def _rows_from_json(payload: dict) -> list[Row]:
    """Rows of a SPARQL JSON results document."""
    bindings = payload["results"]["bindings"]
    return [{name: term["value"] for name, term in binding.items()} for binding in bindings]


class SparqlKG(KG):
    """A KG answered by a SPARQL 1.1 Protocol endpoint."""

    # One request carries hundreds of pair lookups, so bridge edges are looked up rather than fetched (fs1.kg.graph).
    pairs_per_fetch = 400

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        settings = settings or EndpointSettings()
        if not settings.url.startswith(("http://", "https://")):
            raise ConfigError(f"SPARQL endpoint must be an http(s) URL, got {settings.url!r}")
        is_wdqs = endpoint_host(settings.url) == endpoint_host(WDQS_URL)
        self.settings = settings.model_copy(
            update={
                "concurrency": settings.concurrency or (1 if is_wdqs else 4),
                "rate": settings.rate or (5.0 if is_wdqs else 100.0),
            }
        )
        self.url = self.settings.url
        self.spec = f"sparql:{self.url}"
        agent = self.settings.user_agent or os.environ.get(USER_AGENT_ENV) or DEFAULT_USER_AGENT
        self._client = httpx.Client(
            headers={"User-Agent": agent, "Accept": RESULTS_JSON},
            timeout=httpx.Timeout(self.settings.timeout_s, connect=min(10.0, self.settings.timeout_s)),
            follow_redirects=True,
        )
        self._limiter = RateLimiter(float(self.settings.rate or 1.0))
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.concurrency or 1, thread_name_prefix="fs1-sparql"
        )
        self._cache: QueryCache | None = None
        if self.settings.cache:
            from fs1.kg.store import default_cache_dir

            self._cache = QueryCache((self.settings.cache_dir or default_cache_dir()) / "sparql-cache.sqlite")
        self.requests_sent = 0

    def select(self, query: str) -> list[Row]:
        """Answer one query from the cache or the endpoint."""
        if self._cache is not None:
            cached = self._cache.get(self.url, query)
            if cached is not None:
                return cached
        rows = self._fetch(query)
        if self._cache is not None:
            self._cache.put(self.url, query, rows)
        return rows

    def select_many(self, queries: Sequence[str]) -> list[list[Row]]:
        """Answer several queries with at most ``concurrency`` in flight; results in input order."""
        if len(queries) <= 1 or self.settings.concurrency == 1:
            return [self.select(q) for q in queries]
        return list(self._pool.map(self.select, queries))

    def _send(self, query: str) -> httpx.Response:
        self.requests_sent += 1
        if len(self.url) + len(urlencode({"query": query})) + 1 <= GET_MAX_URL:
            return self._client.get(self.url, params={"query": query})
        return self._client.post(self.url, data={"query": query})

    def _fetch(self, query: str) -> list[Row]:
        """Send with retries; return rows or raise ``KGError``/``QueryTimeout``."""
        s = self.settings
        problem = ""
        for attempt in range(s.retries + 1):
            self._limiter.wait()
            try:
                response = self._send(query)
            except httpx.TransportError as exc:
                problem, delay = f"{type(exc).__name__}: {exc}", s.backoff_s * 2**attempt
            else:
                if response.status_code == 200:
                    return self._parse(response)
                delay = self._retry_delay(response, attempt)
                problem = f"HTTP {response.status_code}"
            if attempt < s.retries:
                self._limiter.pause(delay)
                time.sleep(delay)
        raise KGError(f"{self.url}: query failed after {s.retries + 1} attempts ({problem})")

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        """How long to wait before retrying a non-200 answer; raise when it must not be retried."""
        code, body = response.status_code, response.text[:2000]
        if code >= 500 and any(marker in body for marker in TIMEOUT_MARKERS):
            raise QueryTimeout(f"{self.url}: the server timed out on the query (HTTP {code})")
        if code != 429 and code < 500:
            raise KGError(f"{self.url}: HTTP {code}: {' '.join(body.split())[:300]}")
        delay = parse_retry_after(response.headers.get("Retry-After"))
        if delay is None:
            return self.settings.backoff_s * 2**attempt
        if delay > self.settings.max_wait_s:
            raise KGError(
                f"{self.url}: HTTP {code} with Retry-After {delay:.0f} s (over max_wait_s); stopping"
            )
        return delay

    def _parse(self, response: httpx.Response) -> list[Row]:
        try:
            return _rows_from_json(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise KGError(f"{self.url}: not a SPARQL JSON result ({exc})") from None

    def close(self) -> None:
        """Close the HTTP client, worker pool and cache."""
        self._pool.shutdown(wait=True)
        self._client.close()
        if self._cache is not None:
            self._cache.close()


def endpoint_host(url: str) -> str:
    """The host name of an endpoint URL (used to pick polite defaults for WDQS)."""
    return urlsplit(url).hostname or ""
