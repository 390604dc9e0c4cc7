"""JSONL reading with file:line errors, crash-safe appending, atomic writes and resume bookkeeping.

Appends write one whole line per record and flush + fsync it, so a ``kill -9`` leaves at most one torn last line;
``JsonlAppender`` cuts such a line off before appending again, which makes resume give every record exactly once.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import logging
import os
import re
import socket
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from fs1.errors import InputError
from fs1.records import Record, RecordError
from fs1.redact import redact_obj

R = TypeVar("R", bound=Record)
# Why a JSON text too deeply nested for the parser's recursion (``[[[[…``) is refused: one phrase for every reader.
TOO_DEEP = "nested too deeply to read"
log = logging.getLogger(__name__)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the block (it runs again after it, if it ran before).

    Bulk work (reading a benchmark, scoring a range, summarising millions of verdicts) makes 100,000s of objects and
    no reference cycles, yet sets the collector off again and again, each pass walking every object made so far.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def read_jsonl_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-blank line; a torn or malformed line raises ``InputError``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            row = jsonl_line(raw, path, lineno)
            if row is not None:
                yield lineno, row


def jsonl_line(raw: bytes, path: Path, lineno: int) -> dict[str, Any] | None:
    """Line ``lineno`` of the JSON Lines file ``path`` as ``read_jsonl_rows`` reads it: its JSON object, ``None``
    for a blank line, or one ``InputError`` naming ``path:lineno`` (not UTF-8, malformed JSON, not an object)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}:{lineno}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None
    if not line.strip():
        return None
    return parse_json_line(line, f"{path}:{lineno}")


def parse_json_line(line: str, where: str) -> dict[str, Any]:
    """One JSON Lines record: a JSON object, else one ``InputError`` naming ``where`` (file:line)."""
    row = _parse_json(line, where, where)
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object")
    return row


def parse_json_document(text: str, path: str | Path) -> Any:
    """A whole JSON file's text; malformed JSON is one ``InputError`` naming the file and the line of the error."""
    return _parse_json(text, str(path), None)


def _parse_json(text: str, where: str, where_of_error: str | None) -> Any:
    """``json.loads``; ``where_of_error`` None: ``where`` and the error's line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = where_of_error or f"{where}:{exc.lineno}"
        raise InputError(f"{at}: malformed JSON ({exc.msg})") from None
    except RecursionError:  # json recurses per bracket: ``[[[[…`` exhausts the stack
        raise InputError(f"{where}: malformed JSON ({TOO_DEEP})") from None


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
    """Append records to a JSONL file, one fsynced line each; safe to resume after a crash.

    ``shared``: other processes append to the same file at the same time (a cache that concurrent cluster jobs
    share). Each line is then written, and a torn tail repaired, under an exclusive ``flock`` on ``PATH.lock``, so
    no process cuts off a line another is still writing, and ``locked()`` lets a reader see whole lines only.
    """

    def __init__(self, path: str | Path, *, fsync: bool = True, shared: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = lock_path(self.path) if shared else None
        with self.locked():
            _repair_torn_tail(self.path)
            with _naming(self.path):
                self._fh: IO[str] = self.path.open("a", encoding="utf-8")
        self._fsync = fsync

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the shared file's lock (a no-op for an appender that is not ``shared``)."""
        if self._lock is None:
            yield
            return
        with _naming(self.path), file_lock(self._lock):
            yield

    def write(self, record: Record | dict[str, Any]) -> None:
        row = record.to_dict() if isinstance(record, Record) else record
        with _naming(self.path), self.locked():
            self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            self._fh.flush()
            if self._fsync and self.path.is_file():
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with _naming(self.path):
            self._fh.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def file_lock(lock: Path) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on the file ``lock`` (made if missing) for the block, so processes sharing a
    filesystem take turns. Yields False, after a warning, where the filesystem has no ``flock`` (some network
    mounts): the block then runs unlocked, and the caller decides whether that is still correct."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            log.warning("%s: no file lock on this filesystem (%s); going on without one", lock, exc)
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases the lock


def lock_path(path: Path) -> Path:
    """The lock file beside a ``shared`` JSONL file."""
    return path.with_name(path.name + ".lock")


def require_regular_file(path: Path) -> None:
    """Resume reads the output back: only a regular file can be (a device such as /dev/zero never ends)."""
    if path.exists() and not path.is_file():
        raise InputError(f"{path}: not a regular file; --resume continues a regular output file only")


def completed_keys(path: str | Path, key: Callable[[dict[str, Any]], Any]) -> set[Any]:
    """Keys of the complete records already in ``path`` (for ``--resume``); a torn tail is ignored."""
    path = Path(path)
    if not path.exists():
        return set()
    require_regular_file(path)
    _repair_torn_tail(path)
    return {key(row) for _, row in read_jsonl_rows(path)}


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` alone must set it to read it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(existing: Path | None = None) -> int:
    """The mode a plain ``open(path, "w")`` would leave: an existing file's own mode, else 0666 less the umask."""
    if existing is not None:
        with contextlib.suppress(OSError):
            return stat.S_IMODE(existing.stat().st_mode)
    return 0o666 & ~current_umask()


def new_dir_mode() -> int:
    """The mode ``mkdir`` would give a new directory: 0777 less the umask."""
    return 0o777 & ~current_umask()


def honour_umask(root: Path) -> None:
    """Give ``root`` and everything under it (which fs1 has just written) the modes a plain ``open`` and ``mkdir``
    would: libraries that write through private temporary files leave 0600 (safetensors' ``save_file``) or 0700
    (``mkdtemp``) behind, which a results directory shared with a group must not have. Symlinks are left alone."""
    dir_mode, file_mode = new_dir_mode(), new_file_mode()
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(dir_mode)
        elif path.is_file():
            executable = path.stat().st_mode & 0o111
            path.chmod(dir_mode if executable else file_mode)


def _write_target(path: Path) -> Path:
    """Where a write to ``path`` lands: symlinks followed (we write through them, never replace them)."""
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def _is_stream(path: Path) -> bool:
    """A character device or FIFO: written by opening it (renaming over it would destroy it)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, expected a file")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    if not stat.S_ISREG(mode):
        raise InputError(
            f"{path}: not a regular file, a character device or a FIFO; refusing to write over it"
        )
    return False


def _temporary_prefix(path: Path) -> str:
    """Temporaries name the host and process that made them, so a later run can tell ours from a live writer's."""
    return f".{path.name}.fs1.{socket.gethostname()}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_orphaned_temporaries(path: Path) -> list[Path]:
    """Delete temporaries of ``path`` left by a killed fs1 process on this host (never a live writer's)."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.fs1\.(?P<host>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")
    host = socket.gethostname()
    removed = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            found = pattern.match(entry.name)
            if not found or found["host"] != host:
                continue
            pid = int(found["pid"])
            if pid != os.getpid() and not _pid_alive(pid) and entry.is_file() and not entry.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; rename it over ``path`` only if the block succeeds.

    A symlink is written through (its target is replaced, the link kept); a character device or FIFO (``/dev/null``,
    a pipe) is opened and written directly, since renaming over it would replace the device. The file gets the mode a
    plain ``open`` would give it (the replaced file's mode, else 0666 less the umask).
    """
    path = _write_target(Path(path))
    encoding = None if "b" in mode else "utf-8"
    if _is_stream(path):
        with _naming(path), open(path, mode, encoding=encoding) as fh:
            yield fh
        return
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        file_mode = new_file_mode(path if path.exists() else None)
        remove_orphaned_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with _naming(path):
            os.fchmod(fd, file_mode)
            with os.fdopen(fd, mode, encoding=encoding) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An OS error about writing ``path`` names ``path``: not our temporary file, and not nothing (ENOSPC has no
    name). Errors naming another file (a parent directory, an input read inside the block) pass unchanged."""
    try:
        yield
    except OSError as exc:
        name = exc.filename
        ours = name is None or Path(name) == path
        ours = ours or (Path(name).parent == path.parent and Path(name).name.startswith(f".{path.name}.fs1."))
        if not ours:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


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
    """Write one JSON document atomically (indented, for people to read), secrets masked (``fs1.redact``): these are
    manifests, configs and summaries, which may name a URL with a password or key in it."""
    with atomic_open(path) as fh:
        json.dump(redact_obj(obj), fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def config_path(out: str | Path) -> Path:
    """Where the configuration that produced ``out`` is kept: ``preds.jsonl`` -> ``preds.config.json``."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".config.json")


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(current))
    return [
        f"{key}: {stored.get(key)!r} there, {current.get(key)!r} now"
        for key in keys
        if stored.get(key) != current.get(key)
    ]


def check_resume_config(out: str | Path, config: dict[str, Any], *, resume: bool) -> None:
    """Refuse to resume ``out`` unless it was made with ``config``; record ``config`` beside a new output.

    ``config`` holds what decides the records' content (command, model, setting, seed, ...), JSON-able. A non-empty
    output without the record beside it (another command's file, a benchmark) is never resumed: its records cannot be
    told apart from this run's.
    """
    out = Path(out)
    if out.is_dir():  # ``--out ""`` (an unset shell variable) is the current directory
        raise InputError(f"{out}: is a directory, expected the output file (a .jsonl path)")
    if resume:
        require_regular_file(out)
    side = config_path(out)
    current = redact_obj(json.loads(json.dumps(config, sort_keys=True, default=str)))  # as it is stored
    has_records = out.exists() and out.is_file() and out.stat().st_size > 0
    if resume and has_records:
        if not side.exists():
            raise InputError(
                f"{out}: cannot resume: {side.name} (the configuration that made it) is missing, so its records "
                "may come from another command or run; choose another --out"
            )
        try:
            stored = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{side}: unreadable ({exc}); cannot check what made {out}") from None
        diffs = _differences(stored if isinstance(stored, dict) else {}, current)
        if diffs:
            raise InputError(
                f"{out}: cannot resume: it was made with another configuration ({'; '.join(diffs)}); "
                "rerun with the same settings or choose another --out"
            )
        return
    if out.exists() and not out.is_file():
        return  # a device or FIFO: nothing is read back, so there is nothing to record
    write_json_atomic(side, current)
