"""The embedded backend: a ``pyoxigraph`` store opened from an RDF file or a store directory.

``local:DIR`` reuses an existing Oxigraph store (opened read-only, so several processes can share it).
``local:FILE`` loads a small file into memory; a large one is bulk-loaded once into a persistent store under the
cache directory, keyed by the file's absolute path, size and mtime, and reused by later runs. Building happens in a
temporary directory renamed into place, so an interrupted build never leaves a half-loaded store behind, and under a
file lock, so processes starting together (shards of the paths stage) build it once.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import IO, cast

import pyoxigraph as ox

from fs1.io import file_lock
from fs1.kg.base import KG, KGError, Row

log = logging.getLogger(__name__)

# Files up to this size load into memory; bigger ones get a persistent bulk-loaded store.
IN_MEMORY_MAX_BYTES = 64 * 1024 * 1024
STORE_MARKER = "fs1-store.json"
CACHE_ENV = "FS1_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$FS1_CACHE_DIR`` or ``~/.cache/fs1``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "fs1")


def rdf_format(path: Path) -> ox.RdfFormat:
    """The RDF format of ``path`` from its extension (a trailing ``.gz`` is looked through)."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    fmt = ox.RdfFormat.from_extension(name.rsplit(".", 1)[-1]) if "." in name else None
    if fmt is None:
        raise KGError(f"{path}: unknown RDF format (use .nt, .ttl, .nq, .trig or .rdf, optionally .gz)")
    return fmt


class LocalKG(KG):
    """A KG answered by an embedded Oxigraph store."""

    # A pair lookup costs a few microseconds here, a capped adjacency fetch a few hundred (fs1.kg.graph).
    pairs_per_fetch = 64

    def __init__(self, store: ox.Store, spec: str) -> None:
        self.store = store
        self.spec = spec

    def select(self, query: str) -> list[Row]:
        """Run a SELECT query on the store; rows hold term values as strings."""
        try:
            solutions = self.store.query(query)
        except SyntaxError as exc:
            raise KGError(f"invalid SPARQL query: {exc}") from None
        except OSError as exc:
            raise KGError(f"store read failed: {exc}") from None
        if not isinstance(solutions, ox.QuerySolutions):
            raise KGError("expected a SELECT query")
        names = [v.value for v in solutions.variables]
        rows = []
        for solution in solutions:
            row = {}
            for i, name in enumerate(names):
                term = solution[i]
                if term is not None:
                    row[name] = term.value
            rows.append(row)
        return rows

    def close(self) -> None:
        # pyoxigraph closes the RocksDB handle when the object goes away.
        self.store = None  # type: ignore[assignment]


def _load_into(store: ox.Store, path: Path, *, bulk: bool) -> None:
    """Load ``path`` into ``store`` (bulk loader for big files; gzip streamed)."""
    fmt = rdf_format(path)
    load = store.bulk_load if bulk else store.load
    # Lenient: Wikidata dumps hold some IRIs and language tags a strict parser rejects (docs/protocol.md §A.4);
    # malformed statements still raise, with their line.
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                load(input=cast(IO[bytes], fh), format=fmt, lenient=True)  # a GzipFile is a binary file
        else:
            load(path=str(path), format=fmt, lenient=True)
    except SyntaxError as exc:
        raise KGError(f"{path}: RDF syntax error: {exc}") from None


def store_key(path: Path) -> str:
    """Cache key of an RDF file: its absolute path, size and modification time."""
    st = path.stat()
    raw = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def build_store(path: Path, cache_dir: Path) -> Path:
    """Bulk-load ``path`` into ``cache_dir/kg-stores/<name>-<key>`` unless already there; return that directory."""
    root = cache_dir / "kg-stores"
    target = root / f"{path.name}-{store_key(path)}"
    if (target / STORE_MARKER).exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    lock = root / f".{target.name}.lock"
    # Shards of the paths stage starting together wait for one build instead of each bulk-loading the same dump;
    # without flock the builds go unlocked: still correct (the first rename wins, the others are dropped), only slower.
    with file_lock(lock):
        if (target / STORE_MARKER).exists():  # built by the process that held the lock before us
            return target
        _build(path, root, target)
        # Safe to remove once the store is in place: whoever locks a stale copy finds the marker and builds nothing.
        lock.unlink(missing_ok=True)
    return target


def _build(path: Path, root: Path, target: Path) -> None:
    """Bulk-load ``path`` into a temporary directory of ``root``, then rename it to ``target``."""
    tmp = root / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("bulk-loading %s into %s (once)", path, target)
    try:
        store = ox.Store(str(tmp))
        _load_into(store, path, bulk=True)
        store.flush()
        store.optimize()
        del store
        info = {
            "source": str(path.resolve()),
            "size": path.stat().st_size,
            "mtime_ns": path.stat().st_mtime_ns,
        }
        (tmp / STORE_MARKER).write_text(json.dumps(info) + "\n", encoding="utf-8")
        try:
            tmp.rename(target)
        except OSError:
            # Another process finished the same build first; its store is as good as ours.
            if not (target / STORE_MARKER).exists():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)


def open_local(
    target: str | Path, *, cache_dir: Path | None = None, in_memory_max: int = IN_MEMORY_MAX_BYTES
) -> LocalKG:
    """Open ``local:`` ``target``: an Oxigraph store directory, or an RDF file (in memory or via a cached store)."""
    path = Path(target).expanduser()
    spec = f"local:{target}"
    if path.is_dir():
        try:
            return LocalKG(ox.Store.read_only(str(path)), spec)
        except OSError as exc:
            raise KGError(f"{path}: not an Oxigraph store directory ({exc})") from None
    if not path.is_file():
        raise KGError(f"{path}: no such KG file or store directory")
    if path.stat().st_size <= in_memory_max:
        store = ox.Store()
        _load_into(store, path, bulk=False)
        return LocalKG(store, spec)
    store_dir = build_store(path, cache_dir or default_cache_dir())
    return LocalKG(ox.Store.read_only(str(store_dir)), spec)
