"""Whose a run directory is, who drives it, and where its stale outputs go.

A directory is an fs1 run directory when it carries fs1's marker, its manifest (``manifest.json``, written by ``fs1
run`` and ``fs1 plan --dry-run``). ``fs1 run`` writes into no other non-empty directory unless told to (``--force``),
and deletes nothing it did not make: outputs of an edited experiment (a stage whose configuration changed, a run no
longer in the experiment) are moved aside to ``RUNDIR/.stale/`` — or deleted with ``--prune`` — and the console says
which. One driver at a time: ``fs1 run`` holds an exclusive ``flock`` on ``RUNDIR/.lock`` for as long as it runs (the
kernel releases it when the process dies, however it dies, so a dead driver's lock is taken over as it stands); its
cluster jobs do not take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fs1.errors import Fs1Error, InputError

MANIFEST = "manifest.json"
LOCK = ".lock"
STALE = ".stale"
log = logging.getLogger(__name__)


class RunLocked(Fs1Error):
    """Another ``fs1 run`` drives this run directory."""


def manifest_of(rundir: Path) -> dict | None:
    """The run's manifest when it is fs1's (a JSON object with fs1's version), else None."""
    try:
        data = json.loads((rundir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("fs1"), dict) else None


def claim(rundir: Path, *, force: bool = False, experiment: Path | None = None) -> None:
    """Refuse to write into ``rundir`` when it holds anything (but the ``experiment`` file being run) and is not an
    fs1 run directory (``force``: go on, adding fs1's stages beside what is there; fs1 still deletes none of it)."""
    if not rundir.exists():
        return
    if not rundir.is_dir():
        raise InputError(f"{rundir}: not a directory")
    if force or manifest_of(rundir) is not None:
        return
    entries = [e for e in rundir.iterdir() if experiment is None or not _same(e, experiment)]
    if not entries:
        return
    raise InputError(
        f"{rundir}: not empty and not an fs1 run directory (no fs1 {MANIFEST}); fs1 writes only into its own run "
        "directories: choose another --out, or pass --force to add the run to this folder (fs1 deletes none "
        "of its files)"
    )


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def recorded_origin(rundir: Path) -> Path | None:
    """The directory of the experiment file the run was first started from (relative inputs resolve there)."""
    manifest = manifest_of(rundir) or {}
    origin = manifest.get("experiment_dir")
    return Path(origin) if isinstance(origin, str) and origin else None


def _holder(fd: int) -> str:
    try:
        row = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(row["started"])))
        return f"host {row['host']}, pid {row['pid']}, since {started}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextlib.contextmanager
def driver_lock(rundir: Path) -> Iterator[None]:
    """Hold ``RUNDIR/.lock`` while the body runs; a second driver fails at once with one line naming the holder."""
    rundir.mkdir(parents=True, exist_ok=True)
    path = rundir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(
                f"{rundir} is being run by another fs1 run ({_holder(fd)}; lock {path}): wait for it to end or "
                "stop it, then run again"
            ) from None
        except OSError as exc:  # a filesystem without flock (some network mounts): no protection, say so
            log.warning("%s: no file lock on this filesystem (%s); run one fs1 run at a time here", path, exc)
        row = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(row) + "\n").encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def lock_holder(rundir: Path) -> str | None:
    """Who drives the run now (host, pid, start), or None when no ``fs1 run`` holds its lock."""
    path = rundir / LOCK
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


def _free_name(target: Path) -> Path:
    """``target``, or ``target-2``, ``target-3``, … when it is taken."""
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}-{n}")
    return candidate


def set_aside(
    rundir: Path, directory: Path, why: str, *, prune: bool, tag: str, log: Callable[[str], None]
) -> None:
    """Move one of fs1's stage directories (or shard files) out of the way to ``RUNDIR/.stale/<stage>@<tag>``
    (``prune``: delete it), saying which on the console."""
    name = directory.relative_to(rundir).as_posix()
    if prune:
        if directory.is_dir():
            shutil.rmtree(directory)
        else:
            directory.unlink()
        log(f"  {name}: {why}; deleted its earlier outputs (--prune)")
        return
    target = _free_name(rundir / STALE / f"{name}@{tag}")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(directory, target)
    log(
        f"  {name}: {why}; earlier outputs moved to {target.relative_to(rundir)} (`fs1 run --prune` deletes them)"
    )


def prune_stale(rundir: Path, log: Callable[[str], None]) -> None:
    """``--prune``: delete what earlier runs moved aside."""
    stale = rundir / STALE
    if stale.is_dir():
        shutil.rmtree(stale)
        log(f"deleted {stale} (--prune)")
