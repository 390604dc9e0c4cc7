"""A small scripted OpenAI-compatible server on 127.0.0.1 for tests that need exact replies or injected faults.

It speaks the real HTTP protocol (``/v1/models``, ``/v1/completions``, ``/v1/chat/completions``, SSE streaming),
so the real ``openai`` client and httpx code paths run against it. Replies come from a ``responder`` function;
faults (429 with ``Retry-After``, 500, a stalled reply) are queued and served before the next normal reply.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A scripted reply: ``text`` (completion or chat content), optional ``reasoning`` field, token counts."""

    text: str
    reasoning: str | None = None
    reasoning_key: str = "reasoning"  # or "reasoning_content" (older servers)
    finish_reason: str = "stop"
    prompt_tokens: int = 10
    completion_tokens: int | None = None
    cached_tokens: int | None = None  # reported as usage.prompt_tokens_details.cached_tokens (vLLM, OpenAI)
    stop_reason: str | None = None  # the stop string that ended the reply, as vLLM reports it


@dataclass
class Fault:
    """An injected fault: ``status`` 429/500/... with optional ``retry_after`` header, or ``delay`` seconds stall.

    ``chunks``: a body sent piece by piece as the generator yields them (it may sleep between pieces, or never end),
    without a Content-Length, the connection closed after it; ``headers`` are added (e.g. Content-Encoding).
    """

    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: str = '{"error": {"message": "injected fault"}}'
    chunks: Callable[[], Iterator[bytes]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[str, dict[str, Any]], Reply]


def echo_responder(endpoint: str, body: dict[str, Any]) -> Reply:
    """Default: answer with a boxed echo of the last user message or prompt tail."""
    last = body["messages"][-1]["content"] if endpoint == "chat" else body.get("prompt", "")
    return Reply(text=f"echo \\boxed{{{str(last)[-20:]}}}")


class _QuietServer(ThreadingHTTPServer):
    """A client that hung up (a test's deadline or byte cap did its work) is not an error: socketserver would print
    its traceback to stderr from a handler thread, which can outlive the test and land in a later test's output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class ScriptedOpenAIServer:
    """Start with ``with ScriptedOpenAIServer(responder) as srv: srv.base_url``; inspect ``srv.requests``."""

    responder: Responder = echo_responder
    model: str = "scripted-model"
    completions: bool = True  # set False to emulate a chat-only server (404 on /v1/completions)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    owned_by: str | None = None  # /v1/models "owned_by" (e.g. "vllm", "llamacpp") for server-kind detection
    max_model_len: int | None = None  # /v1/models "max_model_len" (vLLM publishes the context length there)
    honour_n: bool = True  # False: return one choice whatever "n" asks (as llama-cpp-python does)
    # Extra POST routes by exact path (e.g. "/tokenize", "/apply-template"): body → (status, JSON reply).
    routes: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # Extra GET routes by exact path (e.g. llama.cpp's "/props"): () → (status, JSON reply).
    get_routes: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, payload: str, headers: dict[str, str] | None = None) -> None:
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path in server.get_routes:
                    with server._lock:
                        server.requests.append({"endpoint": f"GET {self.path}", "body": None, "headers": {}})
                    status, reply = server.get_routes[self.path]()
                    self._send(status, json.dumps(reply))
                elif self.path.rstrip("/").endswith("/models"):
                    entry: dict[str, Any] = {"id": server.model, "object": "model"}
                    if server.owned_by is not None:
                        entry["owned_by"] = server.owned_by
                    if server.max_model_len is not None:
                        entry["max_model_len"] = server.max_model_len
                    self._send(200, json.dumps({"object": "list", "data": [entry]}))
                else:
                    self._send(404, '{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                if self.path in server.routes:
                    with server._lock:
                        server.requests.append(
                            {"endpoint": self.path, "body": body, "headers": dict(self.headers.items())}
                        )
                    status, reply = server.routes[self.path](body)
                    self._send(status, json.dumps(reply))
                    return
                if not self.path.rstrip("/").endswith("/completions"):
                    self._send(404, '{"error": {"message": "not found"}}')
                    return
                endpoint = "chat" if self.path.endswith("/chat/completions") else "completions"
                with server._lock:
                    server.requests.append(  # "raw": the body's bytes as sent (byte-for-byte tests)
                        {
                            "endpoint": endpoint,
                            "body": body,
                            "raw": raw,
                            "headers": dict(self.headers.items()),
                        }
                    )
                    fault = server.faults.popleft() if server.faults else None
                if endpoint == "completions" and not server.completions:
                    self._send(404, '{"error": {"message": "completions endpoint not supported"}}')
                    return
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.chunks is not None:
                        self._send_chunks(fault)
                        return
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    self._send(fault.status, fault.body, headers | fault.headers)
                    return
                n = int(body.get("n") or 1) if server.honour_n else 1
                replies = [server.responder(endpoint, body) for _ in range(n)]
                if body.get("stream"):
                    self._stream(endpoint, replies[0])
                else:
                    self._send(200, json.dumps(server._payload(endpoint, replies)))

            def _send_chunks(self, fault: Fault) -> None:
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                for k, v in fault.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.close_connection = True
                assert fault.chunks is not None
                try:
                    for piece in fault.chunks():
                        self.wfile.write(piece)
                        self.wfile.flush()
                except OSError:  # the client hung up, as it should on a body without end
                    pass

            def _stream(self, endpoint: str, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                chunks: list[dict[str, Any]] = []
                if reply.reasoning:
                    for piece in _pieces(reply.reasoning):
                        chunks.append({reply.reasoning_key: piece})
                for piece in _pieces(reply.text):
                    chunks.append({"content": piece})
                for i, delta in enumerate(chunks):
                    last = i == len(chunks) - 1
                    if endpoint == "chat":
                        choice = {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": reply.finish_reason if last else None,
                        }
                        obj = "chat.completion.chunk"
                    else:
                        choice = {
                            "index": 0,
                            "text": delta.get("content", ""),
                            "finish_reason": reply.finish_reason if last else None,
                        }
                        obj = "text_completion"
                    event = {
                        "id": "x",
                        "object": obj,
                        "created": 0,
                        "model": server.model,
                        "choices": [choice],
                    }
                    if last:
                        event["usage"] = server._usage([reply])
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _usage(self, replies: list[Reply]) -> dict[str, Any]:
        out = sum(
            r.completion_tokens if r.completion_tokens is not None else len(r.text.split()) for r in replies
        )
        usage: dict[str, Any] = {
            "prompt_tokens": replies[0].prompt_tokens,
            "completion_tokens": out,
            "total_tokens": replies[0].prompt_tokens + out,
        }
        if replies[0].cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": replies[0].cached_tokens}
        return usage

    def _payload(self, endpoint: str, replies: list[Reply]) -> dict[str, Any]:
        choices = []
        for i, r in enumerate(replies):
            if endpoint == "chat":
                message: dict[str, Any] = {"role": "assistant", "content": r.text}
                if r.reasoning is not None:
                    message[r.reasoning_key] = r.reasoning
                choices.append({"index": i, "message": message, "finish_reason": r.finish_reason})
            else:
                choices.append(
                    {"index": i, "text": r.text, "finish_reason": r.finish_reason, "logprobs": None}
                )
            if r.stop_reason is not None:
                choices[-1]["stop_reason"] = r.stop_reason
        obj = "chat.completion" if endpoint == "chat" else "text_completion"
        return {
            "id": "x",
            "object": obj,
            "created": 0,
            "model": self.model,
            "choices": choices,
            "usage": self._usage(replies),
        }

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
