"""Shared pytest fixtures: the real llama-cpp-python server on the embedded GGUF (session scope).

Registered for every test module by ``tests/conftest.py`` (``pytest_plugins = ["tests.support.fixtures"]``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.llama_server import LlamaServer


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """One llama_cpp.server process for the whole session; ``.base_url`` (…/v1), ``.root_url``, ``.model_alias``."""
    pytest.importorskip(
        "llama_cpp.server.app", reason="needs the llamacpp extra: pip install 'fs1[llamacpp]'"
    )
    server = LlamaServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
