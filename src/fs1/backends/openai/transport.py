"""HTTP transport for OpenAI-compatible servers: JSON and SSE requests, bounded retries, key hygiene.

Owns how a request reaches a server and what happens when it fails: 429 waits for ``Retry-After`` (seconds, an HTTP
date, or OpenAI's ``retry-after-ms``), 5xx / timeouts / dropped connections back off exponentially, everything else
fails at once. After the last attempt a ``RemoteError`` names the URL and HTTP status, never the API key (the key
is scrubbed from any server text we quote, in case a server echoes request headers).

Every body is read within bounds (``bodies``): at most ``max_response_bytes`` after decompression, and the whole
request within ``deadline`` seconds, so an endless, trickling or gzip-bomb reply ends with an error, never a hang or a
process grown by gigabytes. A reply over the cap is not retried (it would be again); one past the deadline is, as a
timeout.

Why httpx and not the ``openai`` client: fs1 needs routes outside the OpenAI API (vLLM ``/tokenize``, llama.cpp
``/apply-template``, llama-cpp-python ``/extras/tokenize``) at the server root, and vendor fields of the replies
(vLLM ``stop_reason``, llama.cpp ``timings.cache_n``, ``reasoning`` / ``reasoning_content``) as raw JSON; one httpx
client does all of it with one retry policy, whereas the ``openai`` 3.x client brings its own HTTP stack (httpx2)
and would still leave the extra routes to httpx.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import tenacity

from fs1.backends.base import BackendError
from fs1.backends.openai.bodies import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_RESPONSE_BYTES,
    ERROR_BODY_BYTES,
    BodyTooLarge,
    DeadlineExceeded,
    iter_body,
    iter_lines,
)
from fs1.redact import mask_secret, redact_text, redact_url, register_secret
from fs1.retry_after import retry_after

log = logging.getLogger(__name__)

# Status codes where a later attempt may succeed (rate limits, overload, gateway trouble).
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# Status codes that mean "this route does not exist here" when probing optional endpoints.
ABSENT_STATUS = frozenset({404, 405, 501})
SSE_DATA_PREFIX = "data:"
SSE_DONE = "[DONE]"
SERVER_TEXT_LIMIT = 300  # characters of a server's error body quoted in messages
# Without a deadline of its own, a streamed request may take this many read timeouts in all (a long generation arrives
# token by token; the per-read timeout alone would let a trickle run for ever).
STREAM_DEADLINE_FACTOR = 6


class RemoteError(BackendError):
    """A request to an OpenAI-compatible server failed for good; ``url`` and ``status`` say where and how."""

    def __init__(self, message: str, *, url: str, status: int | None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


@dataclass(frozen=True)
class Answer:
    """A reply read whole (within bounds): what the request methods parse."""

    status: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class HTTPFailure(Exception):
    """One failed attempt with an HTTP status (internal: retried or turned into ``RemoteError``)."""

    def __init__(self, status: int, url: str, headers: httpx.Headers, text: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.url = url
        self.headers = headers
        self.text = text


def retry_after_seconds(headers: httpx.Headers | dict[str, str], now: datetime | None = None) -> float | None:
    """Seconds a server asked us to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    return retry_after(lowered.get("retry-after"), None if now is None else now.timestamp())


def is_retryable(exc: BaseException) -> bool:
    """Transport errors and timeouts, and the retryable HTTP statuses, are worth another attempt."""
    if isinstance(exc, HTTPFailure):
        return exc.status in RETRYABLE_STATUS or exc.status >= 500
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol)


class Transport:
    """A pooled httpx client bound to one server, with the retry policy; the key lives only in request headers."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 600.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 600.0,
        jitter: float = 0.1,
        pool_size: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not base_url.lower().startswith(("http://", "https://")):
            raise BackendError(
                f"base_url must be an http(s) URL ending in /v1, got {redact_text(base_url)!r}"
            )
        self.base_url = base_url.rstrip("/")
        self.root_url = self.base_url.removesuffix("/v1")
        self.timeout = timeout
        # One request in all, body included: ``deadline``, else the read timeout (6 of them when streaming).
        self.deadline = timeout if deadline is None else deadline
        self.stream_deadline = STREAM_DEADLINE_FACTOR * timeout if deadline is None else deadline
        self.max_response_bytes = max_response_bytes
        self.max_retries = max_retries
        self.backoff_base, self.max_backoff, self.max_retry_after, self.jitter = (
            backoff_base, max_backoff, max_retry_after, jitter,
        )  # fmt: skip
        self.sleep = sleep
        self.retries = 0  # attempts repeated, for stats
        self._key = api_key or ""
        register_secret(self._key)  # whatever else fs1 writes or prints masks it too
        redact_url(base_url)  # registers a key or password the URL itself carries
        self._headers = {"Accept-Encoding": ACCEPT_ENCODING}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=pool_size + 2, max_keepalive_connections=pool_size),
        )

    def __repr__(self) -> str:
        shown = redact_url(self.base_url)
        return f"Transport(base_url={shown!r}, timeout={self.timeout}, max_retries={self.max_retries})"

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def scrub(self, text: str) -> str:
        """``text`` with the API key masked in every form (servers may echo request headers, whole, cut short,
        percent-encoded or base64'd, in error bodies and even in replies), and every other secret (``fs1.redact``)."""
        return redact_text(mask_secret(text, self._key))

    def url(self, path: str, *, root: bool = False) -> str:
        """Absolute URL of ``path`` under the OpenAI base (``…/v1``) or, with ``root``, under the server root."""
        return f"{self.root_url if root else self.base_url}/{path.lstrip('/')}"

    # --- requests ---
    def get_json(self, path: str, *, root: bool = False) -> dict[str, Any]:
        """GET ``path`` under the base URL (or, with ``root``, the server root), with retries."""
        url = self.url(path, root=root)
        return self._with_retries(url, lambda: self._json(self._checked(self._send("GET", url))))

    def post_json(
        self, path: str, body: dict[str, Any], *, root: bool = False, retries: int | None = None
    ) -> dict[str, Any]:
        """POST a JSON body and return the JSON reply, with retries (``retries`` overrides ``max_retries``)."""
        url = self.url(path, root=root)

        def attempt() -> dict[str, Any]:
            return self._json(self._checked(self._send("POST", url, body)))

        return self._with_retries(url, attempt, self.max_retries if retries is None else retries)

    def post_stream(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """POST with ``stream: true`` and return every SSE event; a stall past the timeout is retried whole."""
        url = self.url(path)
        return self._with_retries(
            url, lambda: list(self._stream_events(url, {**body, "stream": True})), streamed=True
        )

    def probe_json(
        self, path: str, body: dict[str, Any], *, root: bool = True, discovering: bool = False
    ) -> dict[str, Any] | None:
        """POST to an optional route; ``None`` when the server does not have it (404/405/501, a 400/422 body).

        ``discovering``: one attempt, and any HTTP error means "not here" (a server may answer a route meant for
        another server kind with a 500); once a route is known, calls retry and raise as usual.
        """
        try:
            return self.post_json(path, body, root=root, retries=0 if discovering else None)
        except RemoteError as exc:
            if (
                exc.status in ABSENT_STATUS
                or exc.status in (400, 422)
                or (discovering and exc.status is not None)
            ):
                return None
            raise

    def probe_get(self, path: str, *, root: bool = True) -> dict[str, Any] | None:
        """GET an optional route once (no retries); ``None`` when the server does not answer it with JSON."""
        url = self.url(path, root=root)
        try:
            return self._with_retries(url, lambda: self._json(self._checked(self._send("GET", url))), 0)
        except RemoteError as exc:
            if exc.status is not None:
                return None
            raise

    def _send(self, method: str, url: str, body: dict[str, Any] | None = None) -> Answer:
        """One attempt: status, headers and the whole body, read within the byte cap and the deadline."""
        deadline = time.monotonic() + self.deadline
        with self._client.stream(
            method, url, json=body, headers=self._headers, timeout=self._timeouts(self.deadline)
        ) as resp:
            if resp.status_code >= 400:
                return self._error_answer(resp, deadline)
            content = b"".join(iter_body(resp, cap=self.max_response_bytes, deadline=deadline))
            return Answer(resp.status_code, resp.headers, content, str(resp.request.url))

    def _error_answer(self, resp: httpx.Response, deadline: float) -> Answer:
        """An error reply with the start of its body (all we quote), however long the body is."""
        content = b""
        try:
            for piece in iter_body(resp, cap=10 * ERROR_BODY_BYTES, deadline=deadline):
                content += piece
                if len(content) >= ERROR_BODY_BYTES:
                    break
        except (BodyTooLarge, httpx.TransportError):
            pass  # the status says what went wrong; the body only adds the server's words
        return Answer(resp.status_code, resp.headers, content, str(resp.request.url))

    def _timeouts(self, deadline: float) -> httpx.Timeout:
        read = min(self.timeout, deadline)
        return httpx.Timeout(read, connect=min(read, 10.0))

    def _stream_events(self, url: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        deadline = time.monotonic() + self.stream_deadline
        timeouts = self._timeouts(self.stream_deadline)
        with self._client.stream("POST", url, json=body, headers=self._headers, timeout=timeouts) as resp:
            if resp.status_code >= 400:
                self._checked(self._error_answer(resp, deadline))
            for line in iter_lines(iter_body(resp, cap=self.max_response_bytes, deadline=deadline)):
                if not line.startswith(SSE_DATA_PREFIX):
                    continue
                data = line[len(SSE_DATA_PREFIX) :].strip()
                if data == SSE_DONE:
                    return
                if data:
                    try:
                        yield json.loads(data)
                    except ValueError:
                        raise RemoteError(
                            f"{url} streamed an event that is not JSON", url=url, status=None
                        ) from None

    def _json(self, answer: Answer) -> dict[str, Any]:
        try:
            body = json.loads(answer.content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RemoteError(
                f"{answer.url} answered with something that is not a JSON object",
                url=answer.url,
                status=answer.status,
            )
        return body

    def _checked(self, answer: Answer) -> Answer:
        if answer.status >= 400:
            raise HTTPFailure(answer.status, answer.url, answer.headers, answer.text)
        return answer

    # --- retry policy ---
    def _wait_seconds(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, HTTPFailure):
            asked = retry_after_seconds(exc.headers)
            if asked is not None:
                return min(asked, self.max_retry_after)
        backoff = min(self.max_backoff, self.backoff_base * 2 ** (state.attempt_number - 1))
        return backoff * (1.0 + self.jitter * random.random())

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "retrying after %s (attempt %d of %d, waiting %.2fs)",
            self.scrub(self._describe(exc)), state.attempt_number, self.max_retries + 1, wait,
        )  # fmt: skip

    def _describe(self, exc: BaseException | None) -> str:
        if isinstance(exc, HTTPFailure):
            return f"HTTP {exc.status} from {exc.url}"
        if isinstance(exc, DeadlineExceeded):
            return f"the request's deadline passed on {exc.request.url}"
        if isinstance(exc, httpx.TimeoutException):
            return f"a timeout ({self.timeout:g}s) on {exc.request.url}"
        if isinstance(exc, httpx.TransportError):
            return f"{type(exc).__name__} on {exc.request.url}"
        return repr(exc)

    def _with_retries(
        self, url: str, attempt: Callable[[], Any], retries: int | None = None, *, streamed: bool = False
    ) -> Any:
        retries = self.max_retries if retries is None else retries
        try:
            return self._retrying(attempt, retries)
        except (RemoteError, HTTPFailure, BodyTooLarge, httpx.HTTPError) as exc:
            raise self._final_error(exc, url, retries, streamed) from None

    def _retrying(self, attempt: Callable[[], Any], retries: int) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(retries + 1),
            wait=self._wait_seconds,
            retry=tenacity.retry_if_exception(is_retryable),
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(attempt)

    def _final_error(self, exc: BaseException, url: str, retries: int, streamed: bool) -> RemoteError:
        """The one ``RemoteError`` a failed request ends with, its text masked (``scrub``)."""
        status: int | None = None
        if isinstance(exc, RemoteError):  # raised inside an attempt (a body that is not JSON)
            message, url, status = str(exc), exc.url, exc.status
        elif isinstance(exc, HTTPFailure):
            server_text = self.scrub(exc.text.strip())[:SERVER_TEXT_LIMIT]
            message = f"{exc.url} answered HTTP {exc.status}{self._attempts(exc, retries)}: {server_text}"
            url, status = exc.url, exc.status
        elif isinstance(exc, BodyTooLarge):
            message = (
                f"{url} sent a reply of more than {exc.cap} bytes (max_response_bytes); not read further, "
                "not retried: raise max_response_bytes if such replies are expected"
            )
        elif isinstance(exc, DeadlineExceeded):
            seconds = self.stream_deadline if streamed else self.deadline
            message = f"{url} did not finish within the {seconds:g}s deadline{self._attempts(None, retries)}"
        elif isinstance(exc, httpx.TimeoutException):
            message = f"{url} timed out after {self.timeout:g}s{self._attempts(None, retries)}"
        elif isinstance(exc, httpx.TransportError):
            message = f"cannot reach {url} ({type(exc).__name__}){self._attempts(None, retries)}"
        else:  # a body that cannot be decoded, too many redirects
            message = f"{url}: {exc}"
        return RemoteError(self.scrub(message), url=self.scrub(url), status=status)

    def _attempts(self, exc: HTTPFailure | None, retries: int) -> str:
        if retries == 0 or (exc is not None and not is_retryable(exc)):
            return ""
        return f" (after {retries + 1} attempts)"
