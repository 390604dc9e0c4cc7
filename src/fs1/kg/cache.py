"""On-disk cache of answered SPARQL queries (SQLite), so reruns and resumed runs do not ask a remote endpoint twice.

Keyed by a hash of the endpoint's *tag* and the query text. The tag (``fs1.kg.profile.EndpointProfile``) digests
what an answer's validity depends on: endpoint URL, graphs, engine and the row caps in force; so an answer cached
while a server was configured otherwise, or from another graph, is never reused (issue 28). Only complete answers
are stored (``fs1.kg.completeness``). Probes the engine gave up on (timeouts, memory errors of hub checks) are kept
apart in their own table, under a tag that also holds the time limits, so a hub found by a timeout is not asked
again on every run and never mistaken for an answer. The ``endpoints`` table keeps each tag's profile, so a cache
file says what its answers came from. SQLite gives atomic, crash-safe writes and lets several processes share one
cache file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from fs1.kg.base import Row


class QueryCache:
    """A persistent map from (endpoint tag, query) to result rows."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, rows TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS costly (key TEXT PRIMARY KEY, reason TEXT NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS endpoints (tag TEXT PRIMARY KEY, profile TEXT NOT NULL)"
            )
            self._db.commit()

    @staticmethod
    def key(tag: str, query: str) -> str:
        """The cache key of one query sent to one endpoint profile (its tag)."""
        return hashlib.sha256(f"{tag}\0{query}".encode()).hexdigest()

    def record_endpoint(self, tag: str, profile: dict) -> None:
        """Keep the profile behind a tag (provenance of the answers stored under it)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO endpoints (tag, profile) VALUES (?, ?)",
                (tag, json.dumps(profile, sort_keys=True)),
            )
            self._db.commit()

    def endpoints(self) -> dict[str, dict]:
        """Every profile answers were stored under, by tag."""
        with self._lock:
            rows = self._db.execute("SELECT tag, profile FROM endpoints").fetchall()
        return {tag: json.loads(profile) for tag, profile in rows}

    def get(self, tag: str, query: str) -> list[Row] | None:
        """Cached rows, or ``None`` when the query was never answered."""
        with self._lock:
            found = self._db.execute(
                "SELECT rows FROM answers WHERE key = ?", (self.key(tag, query),)
            ).fetchone()
        return None if found is None else json.loads(found[0])

    def put(self, tag: str, query: str, rows: list[Row]) -> None:
        """Store the rows of an answered query."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, rows) VALUES (?, ?)",
                (self.key(tag, query), json.dumps(rows, ensure_ascii=False)),
            )
            self._db.commit()

    def costly(self, tag: str, query: str) -> str | None:
        """Why the engine gave up on this probe before, or ``None`` if it never did."""
        with self._lock:
            found = self._db.execute(
                "SELECT reason FROM costly WHERE key = ?", (self.key(tag, query),)
            ).fetchone()
        return None if found is None else str(found[0])

    def put_costly(self, tag: str, query: str, reason: str) -> None:
        """Remember that the engine gave up on this probe (timeout or memory), with its reason."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO costly (key, reason) VALUES (?, ?)",
                (self.key(tag, query), reason),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
