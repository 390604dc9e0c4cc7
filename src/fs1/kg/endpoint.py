"""The remote backend: a SPARQL 1.1 Protocol client (WDQS, QLever, ``oxigraph serve``) built on httpx.

Policy it follows (docs/protocol.md §A.1): a User-Agent with a contact, required for ``*.wikidata.org`` hosts
(``FS1_USER_AGENT`` or the ``user_agent`` setting); GET, or form-encoded POST for long queries; JSON results;
bounded concurrency and a request-rate limit, polite ones for every ``*.wikidata.org`` host; on a genuine 429/503
it waits exactly what ``Retry-After`` says (seconds or an HTTP date) and pauses every worker, since ignoring a 429
gets a client banned; other 5xx and transport errors are retried with exponential back-off a bounded number of
times, then raised. Redirects are never followed: httpx turns a redirected POST into a body-less GET, so a
redirect is an error naming its target.

What the engine says about the query itself is never retried, since the same query fails the same way:

- a timeout → ``QueryTimeout``: Blazegraph (WDQS) answers HTTP 500 with ``TimeoutException`` in the body; QLever
  answers HTTP **429** (no ``Retry-After``) with a JSON error document whose ``exception`` says "timed out" —
  not throttling, though the status says so;
- running out of memory → ``QueryMemoryError`` (QLever: "Tried to allocate …"; Java: ``OutOfMemoryError``);
- any other QLever error document (``"status": "ERROR"``) → ``KGError``;
- a 200 whose body breaks off with QLever's ``!!!!>>#`` error marker (the error struck while streaming) → the
  matching error; nothing of it is cached.

QLever's own time limit can be set per query (``server_timeout_s`` → its ``timeout`` URL parameter). Answers are
cached on disk (``fs1.kg.cache``); probes the engine gave up on are remembered apart (``select_many_or_costly``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from fs1.errors import ConfigError
from fs1.kg.base import KG, KGError, QueryMemoryError, QueryTimeout, QueryTooCostly, Row
from fs1.kg.cache import QueryCache
from fs1.redact import redact_url
from fs1.retry_after import retry_after

WDQS_URL = "https://query.wikidata.org/sparql"
WIKIDATA_DOMAIN = "wikidata.org"
USER_AGENT_ENV = "FS1_USER_AGENT"
DEFAULT_USER_AGENT = (
    "fs1/0.1 (KG path retrieval for arXiv:2505.11140; set FS1_USER_AGENT to add a contact) httpx"
)
USER_AGENT_EXAMPLE = "fs1/0.1 (https://example.org/you; you@example.org)"
# A contact in a User-Agent: an e-mail address or a URL (Wikimedia's User-Agent policy asks for either).
CONTACT = re.compile(r"[^\s@()<>;]+@[^\s@()<>;]+\.[A-Za-z]{2,}|https?://[^\s()<>;]+")
RESULTS_JSON = "application/sparql-results+json"
# URLs longer than this go by POST (proxies and servers commonly cap request lines near 8 KB; stay well below).
GET_MAX_URL = 2000
TIMEOUT_MARKERS = ("TimeoutException", "Query timed out", "query timeout")  # Blazegraph/WDQS bodies
MEMORY_MARKERS = ("Tried to allocate", "OutOfMemoryError", "bad_alloc")
QLEVER_STREAM_ERROR = b"!!!!>>#"  # QLever ends a 200 body with this when an error strikes while streaming


class EndpointSettings(BaseModel):
    """How a remote SPARQL endpoint is queried."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(WDQS_URL, description="SPARQL endpoint URL.")
    user_agent: str | None = Field(
        None,
        description="User-Agent with a contact (e-mail or URL); default $FS1_USER_AGENT. Required for "
        "*.wikidata.org hosts (Wikimedia policy); elsewhere a descriptive fs1 one is used when unset.",
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
    server_timeout_s: int | None = Field(
        None,
        ge=1,
        description="QLever: per-query time limit sent as its `timeout` URL parameter (30 → timeout=30s); "
        "None = the server's default. Send it to QLever only.",
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent/garbled."""
    return retry_after(value, now)


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


def is_wikidata_host(url: str) -> bool:
    """True for ``wikidata.org`` and every ``*.wikidata.org`` host (query, query-main, query-scholarly, …)."""
    host = endpoint_host(url)
    return host == WIKIDATA_DOMAIN or host.endswith("." + WIKIDATA_DOMAIN)


def user_agent_for(url: str, configured: str | None) -> str:
    """The User-Agent to send: ``configured`` or ``$FS1_USER_AGENT``; Wikimedia hosts require one with a contact."""
    agent = (configured or os.environ.get(USER_AGENT_ENV) or "").strip()
    if not is_wikidata_host(url):
        return agent or DEFAULT_USER_AGENT
    if not agent:
        problem = "no User-Agent is set"
    elif not CONTACT.search(agent):
        problem = f"the User-Agent {agent!r} names no contact (an e-mail address or URL)"
    else:
        return agent
    raise KGError(
        f"{endpoint_host(url)} requires a User-Agent with a contact (Wikimedia policy: other agents are "
        f"rate-limited, then blocked), but {problem}; set {USER_AGENT_ENV} or --user-agent, "
        f"e.g. {USER_AGENT_EXAMPLE!r}"
    )


def engine_error(body: str) -> str | None:
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


def _says_timeout(text: str) -> bool:
    lowered = text.lower()
    return "timed out" in lowered or "timeout" in lowered


def _short(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


class SparqlKG(KG):
    """A KG answered by a SPARQL 1.1 Protocol endpoint."""

    # One request carries hundreds of pair lookups, so bridge edges are looked up rather than fetched (fs1.kg.graph).
    pairs_per_fetch = 400
    # Counts of one triple pattern come from index metadata on WDQS and QLever: hub checks count those first.
    fast_raw_counts = True

    def __init__(self, settings: EndpointSettings | None = None) -> None:
        settings = settings or EndpointSettings()
        if not settings.url.startswith(("http://", "https://")):
            raise ConfigError(f"SPARQL endpoint must be an http(s) URL, got {settings.url!r}")
        polite = is_wikidata_host(settings.url)
        self.settings = settings.model_copy(
            update={
                "concurrency": settings.concurrency or (1 if polite else 4),
                "rate": settings.rate or (5.0 if polite else 100.0),
            }
        )
        self.url = self.settings.url
        self.spec = f"sparql:{redact_url(self.url)}"  # what records and logs name: no password or key
        agent = user_agent_for(self.url, self.settings.user_agent)
        self._params: dict[str, str] = {}
        if self.settings.server_timeout_s is not None:
            self._params["timeout"] = f"{self.settings.server_timeout_s}s"
        self._client = httpx.Client(
            headers={"User-Agent": agent, "Accept": RESULTS_JSON},
            timeout=httpx.Timeout(self.settings.timeout_s, connect=min(10.0, self.settings.timeout_s)),
            follow_redirects=False,
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
        return self._map(self.select, queries)

    def select_many_or_costly(self, queries: Sequence[str]) -> list[list[Row] | None]:
        """Like ``select_many``; a query the engine gives up on is ``None`` and is remembered in the cache."""
        return self._map(self._select_or_costly, queries)

    def _select_or_costly(self, query: str) -> list[Row] | None:
        if self._cache is not None and self._cache.costly(self.url, query) is not None:
            return None
        try:
            return self.select(query)
        except QueryTooCostly as exc:
            if self._cache is not None:
                self._cache.put_costly(self.url, query, str(exc))
            return None

    def _map(self, fn, queries: Sequence[str]) -> list:  # noqa: ANN001
        if len(queries) <= 1 or self.settings.concurrency == 1:
            return [fn(q) for q in queries]
        return list(self._pool.map(fn, queries))

    def _send(self, query: str) -> httpx.Response:
        self.requests_sent += 1
        params = {"query": query, **self._params}
        if len(self.url) + len(urlencode(params)) + 1 <= GET_MAX_URL:
            return self._client.get(self.url, params=params)
        return self._client.post(self.url, data=params)

    def _fetch(self, query: str) -> list[Row]:
        """Send with retries; return rows or raise ``KGError``/``QueryTimeout``/``QueryMemoryError``."""
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
        code, body = response.status_code, response.text[:4000]
        if 300 <= code < 400:
            target = response.headers.get("Location", "(no Location header)")
            raise KGError(
                f"{self.url}: HTTP {code} redirect to {target}; redirects are not followed (a redirected POST "
                "loses its query): use that URL as the endpoint"
            )
        self._raise_engine_error(code, body)
        if code != 429 and code < 500:
            raise KGError(f"{self.url}: HTTP {code}: {_short(body)}")
        delay = parse_retry_after(response.headers.get("Retry-After"))
        if delay is None:
            return self.settings.backoff_s * 2**attempt
        if delay > self.settings.max_wait_s:
            raise KGError(
                f"{self.url}: HTTP {code} with Retry-After {delay:.0f} s (over max_wait_s); stopping"
            )
        return delay

    def _raise_engine_error(self, code: int, body: str) -> None:
        """Raise for answers in which the engine speaks about the query itself (never worth sending again)."""
        exception = engine_error(body)
        if code == 429 and exception is not None:
            # QLever: a cancelled query (its time limit, mostly) comes back as 429 with an error document.
            if _says_timeout(exception):
                raise QueryTimeout(
                    f"{self.url}: the server timed out on the query (HTTP 429: {_short(exception)})"
                )
            raise KGError(f"{self.url}: the server cancelled the query (HTTP 429: {_short(exception)})")
        if code < 500:
            return
        if any(marker in body for marker in TIMEOUT_MARKERS):
            raise QueryTimeout(f"{self.url}: the server timed out on the query (HTTP {code})")
        if any(marker in body for marker in MEMORY_MARKERS):
            raise QueryMemoryError(
                f"{self.url}: the server ran out of memory on the query (HTTP {code}: {_short(exception or body)})"
            )
        if exception is not None:
            raise KGError(f"{self.url}: HTTP {code}: {_short(exception)}")

    def _parse(self, response: httpx.Response) -> list[Row]:
        try:
            return _rows_from_json(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            self._raise_stream_error(response.content)
            raise KGError(f"{self.url}: not a SPARQL JSON result ({exc})") from None

    def _raise_stream_error(self, content: bytes) -> None:
        """A body cut short by QLever's error marker: the error it names (a timeout, mostly)."""
        at = content.rfind(QLEVER_STREAM_ERROR)
        if at < 0:
            return
        message = _short(content[at : at + 4000].decode("utf-8", errors="replace"))
        if _says_timeout(message):
            raise QueryTimeout(f"{self.url}: the server timed out while sending the result ({message})")
        if any(marker in message for marker in MEMORY_MARKERS):
            raise QueryMemoryError(f"{self.url}: the server ran out of memory while sending ({message})")
        raise KGError(f"{self.url}: the server failed while sending the result ({message})")

    def close(self) -> None:
        """Close the HTTP client, worker pool and cache."""
        self._pool.shutdown(wait=True)
        self._client.close()
        if self._cache is not None:
            self._cache.close()


def endpoint_host(url: str) -> str:
    """The host name of an endpoint URL (used to pick polite defaults for Wikidata hosts)."""
    return (urlsplit(url).hostname or "").lower()
