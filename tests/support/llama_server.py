"""Start and stop llama-cpp-python's real OpenAI-compatible server on 127.0.0.1 for integration tests.

The server runs in a child process (``python -m llama_cpp.server``) on the embedded SmolLM2-135M GGUF (or any GGUF
given), on a free port; ``start`` returns once ``GET /v1/models`` answers. Use it as a context manager or through the
session-scoped ``llama_server`` pytest fixture in ``tests/support/fixtures.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# A small context keeps start-up fast; tests generate a few dozen tokens at most.
DEFAULT_N_CTX = 2048
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the server retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """A running ``llama_cpp.server`` child process; ``base_url`` ends in ``/v1`` (what OpenAI clients take)."""

    model_path: Path | None = None  # default: the embedded GGUF (fs1.backends.embedded.gguf_path())
    n_ctx: int = DEFAULT_N_CTX
    # One thread: llama.cpp's threads spin on barriers, which collapses throughput when the CPUs are shared
    # (parallel test sessions, CI neighbours); the test model is small enough for one.
    n_threads: int = 1
    model_alias: str = "smollm2-135m"
    port: int = 0
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own_log: bool = field(default=False, repr=False)  # a temporary log made here is removed by stop()

    @property
    def root_url(self) -> str:
        """The server's root (non-``/v1`` routes such as ``/extras/tokenize`` live here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"{self.root_url}/v1"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> LlamaServer:
        """Start the server and wait until ``/v1/models`` answers; raise with the server's log tail if it dies."""
        if self.model_path is None:
            from fs1.backends.embedded import gguf_path

            self.model_path = gguf_path()
        for _ in range(3):  # the free port may be taken between probing and binding: retry on a new one
            self.port = free_port()
            if self._launch_and_wait(timeout_s):
                return self
        raise RuntimeError(f"llama_cpp.server did not start; log tail:\n{self._log_tail()}")

    def _launch_and_wait(self, timeout_s: float) -> bool:
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
            os.close(fd)
            self.log_path, self._own_log = Path(name), True
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path), "--model_alias", self.model_alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # polling interval while the model loads, not hiding a race
        self.stop()
        raise TimeoutError(
            f"llama_cpp.server not ready after {timeout_s:.0f}s; log tail:\n{self._log_tail()}"
        )

    def _log_tail(self, chars: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after a grace period), wait for it, remove its temporary log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path, self._own_log = None, False

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
