"""The embedded backend's loading: small files in memory, big ones bulk-loaded once into a cached store keyed by
path/size/mtime and reused, ``local:DIR`` stores, gzip and Turtle input, clear errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from fs1.kg import PathFinder, open_kg
from fs1.kg.base import KGError
from fs1.kg.store import STORE_MARKER, build_store, open_local
from tests.fixtures.kg.graphs import write_tiny


def hops(kg, a: str, b: str) -> int | None:
    return PathFinder(kg).search.pair(a, b).hops


def test_big_file_is_bulk_loaded_once_and_reused(tmp_path: Path) -> None:
    nt = write_tiny(tmp_path / "tiny.nt")
    cache = tmp_path / "cache"
    with open_local(nt, cache_dir=cache, in_memory_max=0) as kg:  # force the persistent-store path
        assert hops(kg, "Q8", "Q7") == 2
    (store_dir,) = (cache / "kg-stores").iterdir()
    assert (store_dir / STORE_MARKER).exists()
    built_at = (store_dir / STORE_MARKER).stat().st_mtime_ns
    with open_local(nt, cache_dir=cache, in_memory_max=0) as kg:
        assert hops(kg, "Q4", "Q1") == 1
    assert (store_dir / STORE_MARKER).stat().st_mtime_ns == built_at  # reused, not rebuilt
    # A changed file (new mtime/size) gets a new store; no temporary directories are left behind.
    with nt.open("a") as fh:
        fh.write("<http://www.wikidata.org/entity/Q8> <http://www.wikidata.org/prop/direct/P26> "
                 "<http://www.wikidata.org/entity/Q7> .\n")  # fmt: skip
    os.utime(nt, ns=(built_at + 10**9, built_at + 10**9))
    with open_local(nt, cache_dir=cache, in_memory_max=0) as kg:
        assert hops(kg, "Q8", "Q7") == 1
    assert sorted(p.name.startswith(".") for p in (cache / "kg-stores").iterdir()) == [False, False]


def test_local_dir_reuses_an_existing_store(tmp_path: Path) -> None:
    store_dir = build_store(write_tiny(tmp_path / "tiny.nt"), tmp_path / "cache")
    with open_kg(f"local:{store_dir}") as kg:
        assert hops(kg, "Q2", "Q4") == 2
    with pytest.raises(KGError, match="not an Oxigraph store"):
        open_kg(f"local:{tmp_path}")


def test_gzip_and_turtle_inputs(tmp_path: Path) -> None:
    nt = write_tiny(tmp_path / "tiny.nt")
    gz = tmp_path / "tiny.nt.gz"
    gz.write_bytes(gzip.compress(nt.read_bytes()))
    ttl = tmp_path / "tiny.ttl"
    ttl.write_text("@prefix wd: <http://www.wikidata.org/entity/> .\n" + nt.read_text())
    for path in (gz, ttl):
        with open_kg(f"local:{path}") as kg:
            assert hops(kg, "Q8", "Q7") == 2
    odd = tmp_path / "tiny.graph"
    odd.write_text(nt.read_text())
    with pytest.raises(KGError, match="unknown RDF format"):
        open_kg(f"local:{odd}")


def test_processes_starting_together_build_a_big_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards of the paths stage open the same big KG file at once: one builds the store, the others wait for it."""
    import threading

    import fs1.kg.store as store

    nt = write_tiny(tmp_path / "tiny.nt")
    cache = tmp_path / "cache"
    builds: list[str] = []
    real_load, real_lock = store._load_into, store.file_lock
    first_building, second_at_lock = threading.Event(), threading.Event()

    def counting_load(st, path: Path, *, bulk: bool) -> None:  # noqa: ANN001
        builds.append(threading.current_thread().name)
        if len(builds) == 1:  # the first build goes on only once the second shard has come to the lock
            first_building.set()
            assert second_at_lock.wait(30)
        real_load(st, path, bulk=bulk)

    def noting_lock(lock: Path):  # noqa: ANN202
        if threading.current_thread().name == "second":
            second_at_lock.set()
        return real_lock(lock)

    monkeypatch.setattr(store, "_load_into", counting_load)
    monkeypatch.setattr(store, "file_lock", noting_lock)
    found: list[int | None] = []

    def shard() -> None:
        with open_local(nt, cache_dir=cache, in_memory_max=0) as kg:
            found.append(hops(kg, "Q8", "Q7"))

    first = threading.Thread(target=shard, name="first")
    first.start()
    assert first_building.wait(30)  # the first shard is building, holding the lock
    second = threading.Thread(target=shard, name="second")
    second.start()
    first.join(60)
    second.join(60)
    # flock excludes separately opened files even within one process: the second waited, then reused the store
    assert found == [2, 2] and builds == ["first"]
    assert [p.name.startswith(".") for p in (cache / "kg-stores").iterdir()] == [
        False
    ]  # no lock or temp left
