"""Shared pytest fixtures: the real llama-cpp-python server on the embedded GGUF (session scope), and a real
``oxigraph serve`` on the tiny test graph with a fault-injecting proxy in front (module scope).

Registered for every test module by ``tests/conftest.py`` (``pytest_plugins = ["tests.support.fixtures"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.kg.graphs import write_tiny
from tests.fixtures.kg.servers import FaultProxy, OxigraphServer
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


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Wikidata-shaped test graph as N-Triples (tests/fixtures/kg/graphs.py)."""
    return write_tiny(tmp_path_factory.mktemp("kg") / "tiny.nt")


@pytest.fixture(scope="module")
def server(tiny_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    """A real ``oxigraph serve`` on 127.0.0.1 holding ``tiny_file``, stopped by PID at the end of the module."""
    with OxigraphServer(tiny_file, tmp_path_factory.mktemp("oxi")) as srv:
        yield srv


@pytest.fixture()
def proxy(server: OxigraphServer) -> Iterator[FaultProxy]:
    """A fault-injecting HTTP proxy in front of ``server`` (append to ``.faults``; ``.requests`` records each one)."""
    with FaultProxy(server.url) as prx:
        yield prx
