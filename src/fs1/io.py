"""JSONL reading with file:line errors, crash-safe appending, atomic writes and resume bookkeeping.

Appends write one whole line per record and flush + fsync it, so a ``kill -9`` leaves at most one torn last line;
``JsonlAppender`` cuts such a line off before appending again, which makes resume give every record exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from fs1.errors import InputError
from fs1.records import Record, RecordError

R = TypeVar("R", bound=Record)


def read_jsonl_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-blank line; a torn or malformed line raises ``InputError``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: malformed JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, row


def read_records(path: str | Path, cls: type[R]) -> list[R]:
    """Read a JSONL file of ``cls`` records; errors name file and line."""
    out = []
    for lineno, row in read_jsonl_rows(path):
        try:
            out.append(cls.from_dict(row))
        except (RecordError, TypeError) as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None
    return out


def _repair_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline (a write interrupted by a crash)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return
        # Walk back to the previous newline; everything after it is a partial record.
        pos = size
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            data = fh.read(pos - start)
            idx = data.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                return
            pos = start
        fh.truncate(0)


class JsonlAppender:
    """Append records to a JSONL file, one fsynced line each; safe to resume after a crash."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _repair_torn_tail(self.path)
        self._fh: IO[str] = self.path.open("a", encoding="utf-8")
        self._fsync = fsync

    def write(self, record: Record | dict[str, Any]) -> None:
        row = record.to_dict() if isinstance(record, Record) else record
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def completed_keys(path: str | Path, key: Callable[[dict[str, Any]], Any]) -> set[Any]:
    """Keys of the complete records already in ``path`` (for ``--resume``); a torn tail is ignored."""
    path = Path(path)
    if not path.exists():
        return set()
    _repair_torn_tail(path)
    return {key(row) for _, row in read_jsonl_rows(path)}


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_jsonl_atomic(path: str | Path, rows: Iterable[Record | dict[str, Any]]) -> int:
    """Write all rows to ``path`` atomically; returns the number written."""
    n = 0
    with atomic_open(path) as fh:
        for row in rows:
            data = row.to_dict() if isinstance(row, Record) else row
            fh.write(json.dumps(data, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write one JSON document atomically (indented, for people to read)."""
    with atomic_open(path) as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
