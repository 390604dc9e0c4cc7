"""Reading a server's reply within bounds: a byte cap counted after decompression, and one deadline for the whole
request.

httpx bounds each read (``timeout``), not a request: a body that trickles a byte every few seconds, or never ends,
would be read for ever, and its decoders inflate a compressed chunk whole (a gzip bomb grows the process by
gigabytes). So the raw bytes are read here and inflated with ``zlib`` a bounded piece at a time (``gzip`` and
``deflate``, the encodings we advertise; any other is refused), the inflated bytes are counted against the cap, and a
watchdog shuts the connection's socket down when the deadline passes, which ends a read that is waiting.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20  # a reply of a 32K-token sample is well under 1 MB; 64 MB is generous
ERROR_BODY_BYTES = 64 * 2**10  # of an error reply: enough to quote its reason
ACCEPT_ENCODING = "gzip, deflate"  # what the decoder below inflates (httpx would also offer br and zstd)
READ_SIZE = 64 * 2**10


class BodyTooLarge(Exception):
    """The reply passed the byte cap (internal: the transport turns it into a ``RemoteError``)."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"more than {cap} bytes")
        self.cap = cap


class DeadlineExceeded(httpx.TimeoutException):
    """The request ran past its overall deadline (a timeout: retried like one)."""


class UnsupportedEncoding(Exception):
    """A ``Content-Encoding`` we did not ask for and do not inflate."""


class BoundedDecoder:
    """Inflate a ``Content-Encoding`` (identity, gzip, deflate) at most ``room`` bytes at a time."""

    def __init__(self, encoding: str | None) -> None:
        coding = (encoding or "identity").strip().lower()
        if coding in ("", "identity"):
            self._wbits: int | None = None
        elif coding in ("gzip", "x-gzip"):
            self._wbits = zlib.MAX_WBITS | 16
        elif coding == "deflate":
            self._wbits = zlib.MAX_WBITS  # zlib-wrapped as the RFC says; raw deflate tried if that fails
        else:
            raise UnsupportedEncoding(coding)
        self._inflate = None if self._wbits is None else zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> Iterator[bytes]:
        """The bytes ``data`` inflates to, in pieces; stops once more than ``room`` bytes came out."""
        if self._inflate is None:
            yield data
            return
        out = 0
        pending = data
        while pending and out <= room:
            piece = self._inflate_some(pending, room - out + 1)
            out += len(piece)
            pending = self._inflate.unconsumed_tail
            if self._inflate.eof and self._inflate.unused_data:  # a gzip stream of several members
                pending = self._inflate.unused_data + pending
                self._inflate = zlib.decompressobj(self._wbits)  # type: ignore[arg-type]
            if piece:
                yield piece
            elif not self._inflate.unconsumed_tail:
                break

    def _inflate_some(self, data: bytes, limit: int) -> bytes:
        assert self._inflate is not None
        try:
            piece = self._inflate.decompress(data, max(1, limit))
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise
            self._wbits = -zlib.MAX_WBITS  # a server sending raw deflate, as some do
            self._inflate = zlib.decompressobj(self._wbits)
            piece = self._inflate.decompress(data, max(1, limit))
        self._started = True
        return piece


class Watchdog:
    """Shut a response's socket down at ``deadline`` (``time.monotonic()``), ending any read that is waiting."""

    def __init__(self, resp: httpx.Response, deadline: float) -> None:
        self.fired = False
        stream = resp.extensions.get("network_stream")
        self._socket: Any = stream.get_extra_info("socket") if stream is not None else None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def iter_body(resp: httpx.Response, *, cap: int, deadline: float) -> Iterator[bytes]:
    """The inflated body of a streamed ``resp`` in pieces; ``BodyTooLarge`` past ``cap`` bytes, ``DeadlineExceeded``
    past ``deadline`` (the caller owns the response and closes it)."""
    try:
        decoder = BoundedDecoder(resp.headers.get("content-encoding"))
    except UnsupportedEncoding as exc:
        raise httpx.DecodingError(f"unsupported Content-Encoding {exc}", request=resp.request) from None
    total = 0
    with Watchdog(resp, deadline) as watchdog:
        try:
            for raw in resp.iter_raw(READ_SIZE):
                for piece in decoder.feed(raw, cap - total):
                    total += len(piece)
                    if total > cap:
                        raise BodyTooLarge(cap)
                    yield piece
                if time.monotonic() > deadline:
                    raise DeadlineExceeded("deadline", request=resp.request)
        except (httpx.TransportError, zlib.error) as exc:
            if watchdog.fired:
                raise DeadlineExceeded("deadline", request=resp.request) from None
            if isinstance(exc, zlib.error):
                raise httpx.DecodingError(f"corrupt compressed body ({exc})", request=resp.request) from None
            raise
        if watchdog.fired:  # the socket was shut: what came before is not the whole body
            raise DeadlineExceeded("deadline", request=resp.request)


def iter_lines(pieces: Iterable[bytes]) -> Iterator[str]:
    """Text lines of a byte stream (``\\n`` or ``\\r\\n`` ends), decoded as UTF-8; linear in the bytes, however long a
    line is."""
    pending: list[bytes] = []
    for piece in pieces:
        *ended, rest = piece.split(b"\n")
        for part in ended:
            pending.append(part)
            yield b"".join(pending).rstrip(b"\r").decode("utf-8", "replace")
            pending = []
        if rest:
            pending.append(rest)
    if pending:
        yield b"".join(pending).rstrip(b"\r").decode("utf-8", "replace")
