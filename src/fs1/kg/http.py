"""One bounded HTTP exchange with a SPARQL endpoint: the body is streamed, decoded by fs1 itself with a byte cap,
and the whole request has a deadline, so a gzip bomb, an endless body or one trickling a byte at a time can neither
exhaust memory nor hang a run (issue 31 item 4).

The endpoint URL's own query string (``?default-graph-uri=…``, an API key) is kept on GET and POST alike: httpx ≥
0.28 replaces a URL's query with ``params`` on GET, so fs1 merges them itself.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from fs1.kg.base import KGError, QueryTimeout

# Encodings fs1 asks for and decodes itself, under the byte cap (httpx would decode a whole chunk at once).
ACCEPT_ENCODING = "gzip, deflate"
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
Params = Sequence[tuple[str, str]]


class ResponseTooLarge(KGError):
    """A reply larger than the byte cap (``max_response_mb``): the same query would bring it again."""


class DeadlineExceeded(QueryTimeout):
    """A reply not complete within the request deadline (a slow engine, or a body that trickles)."""


@dataclass(frozen=True)
class Reply:
    """A whole reply: status, headers, the decoded body, and the seconds from sending to its last byte."""

    status: int
    headers: httpx.Headers
    content: bytes
    elapsed: float

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def with_params(url: str, params: Params) -> httpx.URL:
    """``url`` with ``params`` appended after the URL's own query parameters (none of them dropped)."""
    base = httpx.URL(url)
    return base.copy_with(params=[*base.params.multi_items(), *params])


def exchange(
    client: httpx.Client,
    url: str,
    params: Params,
    *,
    post: bool,
    max_bytes: int,
    deadline_s: float,
    shown_url: str | None = None,
) -> Reply:
    """Send one query (GET with ``params`` in the URL, or a form POST) and read the whole reply within the limits.

    Raises ``ResponseTooLarge`` past ``max_bytes`` of decoded body, ``DeadlineExceeded`` past ``deadline_s``
    (checked as bytes arrive; a read that stalls ends at the client's read timeout), and httpx's transport errors.
    Messages name ``shown_url`` (the URL with any secret masked).
    """
    start = time.monotonic()
    if post:
        form: dict[str, list[str]] = {}
        for key, value in params:
            form.setdefault(key, []).append(value)
        request = client.build_request("POST", url, data=form)
    else:
        request = client.build_request("GET", with_params(url, params))
    response = client.send(request, stream=True)
    try:
        body = _read(response, max_bytes, start + deadline_s, shown_url or url)
    finally:
        response.close()
    return Reply(response.status_code, response.headers, body, time.monotonic() - start)


def _read(response: httpx.Response, max_bytes: int, deadline: float, url: str) -> bytes:
    """The decoded body, chunk by chunk, within the byte cap and the deadline."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity") and encoding not in _DECODERS:
        raise KGError(f"{url}: unsupported Content-Encoding {encoding!r}")
    decoder = zlib.decompressobj(_DECODERS[encoding]) if encoding in _DECODERS else None
    parts: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"{url}: the reply was not complete within the request deadline")
        data = raw
        while data:
            if decoder is None:
                piece, data = data, b""
            else:  # never inflate more than the cap allows: a gzip bomb stops here
                piece = decoder.decompress(data, max_bytes - size + 1)
                data = decoder.unconsumed_tail
            size += len(piece)
            if size > max_bytes:
                raise ResponseTooLarge(_too_large(url, max_bytes))
            parts.append(piece)
    if decoder is not None:
        tail = decoder.flush()
        size += len(tail)
        if size > max_bytes:
            raise ResponseTooLarge(_too_large(url, max_bytes))
        parts.append(tail)
    return b"".join(parts)


def _too_large(url: str, max_bytes: int) -> str:
    return (
        f"{url}: the reply is larger than {max_bytes / 2**20:g} MB (--max-response-mb); "
        "a SPARQL answer fs1 asks for is far smaller, so the server or a proxy misbehaves"
    )
