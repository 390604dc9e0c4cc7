"""Shards of a stage's questions: contiguous slices, one JSONL per shard, and a merge that accepts every key once.

Shard ``I`` of ``N`` (0-based, like ``SLURM_ARRAY_TASK_ID``) writes ``<stem>.shard-I-of-N<suffix>`` next to the
stage's output and, when it has finished, an empty ``.done`` file beside it. Contiguous slices keep the merged file in
the order a single process would have written. The merge refuses a key written twice, a key missing and a key that
does not belong to the stage, naming the files and lines; it writes the merged file atomically, then removes the
shard files.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, TypeVar

from fs1.errors import ConfigError
from fs1.io import InputError, _repair_torn_tail, atomic_open, config_path, parse_json_line
from fs1.records import Record, RecordError

T = TypeVar("T")
RUNNING = ".running"  # sidecar naming the process working on a shard (or, in a stage directory, on the stage)
SHARD_RE = re.compile(r"^(?P<stem>.+)\.shard-(?P<i>\d+)-of-(?P<n>\d+)(?P<suffix>\.[^.]+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)`` with ``0 ≤ I < N``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ConfigError(f"--shard expects I/N (0-based shard I of N shards), got {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text}: need N ≥ 1 and 0 ≤ I < N")
    return index, count


def shard_slice(items: Sequence[T], index: int, count: int) -> list[T]:
    """Shard ``index`` of ``count``: a contiguous slice; sizes differ by at most one."""
    total = len(items)
    return list(items[index * total // count : (index + 1) * total // count])


def shard_path(out: Path, index: int, count: int) -> Path:
    """Where shard ``index`` of ``count`` of the output ``out`` is written."""
    return out.with_name(f"{out.stem}.shard-{index}-of-{count}{out.suffix}")


def done_path(part: Path) -> Path:
    """The marker a shard writes once all its records are in ``part``."""
    return part.with_name(part.name + ".done")


def _digest(part: Path) -> dict[str, Any]:
    """The size and SHA-256 of a shard file, as its ``.done`` marker records them."""
    with part.open("rb") as fh:
        return {"bytes": part.stat().st_size, "sha256": hashlib.file_digest(fh, "sha256").hexdigest()}


def mark_done(part: Path) -> None:
    """Mark a shard finished, recording what its file holds, so a shard changed afterwards is told apart."""
    digest = _digest(part) if part.exists() else {"bytes": 0, "sha256": None}
    with atomic_open(done_path(part)) as fh:
        json.dump(digest, fh)


def changed_since_done(part: Path) -> str | None:
    """Why a finished shard's file is no longer what its job wrote (missing, truncated, edited), or None when it is
    (an empty ``.done`` of an earlier fs1 version records nothing to compare, and passes)."""
    try:
        text = done_path(part).read_text(encoding="utf-8")
    except OSError:
        return "not finished (no .done marker)"
    if not text.strip():
        return None if part.exists() else "missing"
    try:
        recorded = json.loads(text)
        size, sha = int(recorded["bytes"]), recorded["sha256"]
    except (ValueError, KeyError, TypeError):
        return f"its marker {done_path(part).name} is unreadable"
    if not part.exists():
        return "missing" if size else None
    now = part.stat().st_size
    if now != size:
        return f"{now} bytes now, {size} when its job finished"
    if _digest(part)["sha256"] != sha:
        return "its contents changed after its job finished"
    return None


def shard_files(out: Path) -> dict[int, list[Path]]:
    """Existing shard files of ``out``, grouped by their shard count."""
    found: dict[int, list[Path]] = {}
    for path in sorted(out.parent.glob(f"{out.stem}.shard-*-of-*{out.suffix}")):
        match = SHARD_RE.match(path.name)
        if match and match["stem"] == out.stem:
            found.setdefault(int(match["n"]), []).append(path)
    return found


def drop_other_counts(out: Path, count: int) -> list[Path]:
    """Remove shard files (and markers) of ``out`` written with another shard count; returns what was removed."""
    removed = []
    for n, paths in shard_files(out).items():
        if n == count:
            continue
        for path in paths:
            path.unlink()
            done_path(path).unlink(missing_ok=True)
            path.with_name(path.name + RUNNING).unlink(missing_ok=True)
            config_path(path).unlink(missing_ok=True)
            removed.append(path)
    return removed


def merge_shards(
    out: Path,
    count: int,
    expected: AbstractSet[Hashable],
    key: Callable[[dict[str, Any]], Hashable],
    remove_parts: bool = True,
    *,
    excused: set[Hashable] = frozenset(),  # type: ignore[assignment]
    record: type[Record] | None = None,
) -> int:
    """Concatenate the ``count`` shards of ``out`` into ``out`` after checking every expected key occurs once.

    ``excused``: keys a shard recorded as failed, which may be missing; ``record``: the record type every line must
    make (a wrong-typed record stops the merge here, naming its file and line, not a later stage)."""
    parts = [shard_path(out, i, count) for i in range(count)]
    missing_parts = [p.name for p in parts if not p.exists()]
    if missing_parts:
        raise InputError(f"{out.parent}: shard files missing: {', '.join(missing_parts)}")
    for part in parts:
        if not done_path(part).exists():
            raise InputError(
                f"{part}: not finished (no {done_path(part).name}): run that shard to its end first"
            )
        why = changed_since_done(part)
        if why is not None:
            raise InputError(
                f"{part}: {why}; its records cannot be trusted: delete it and {done_path(part).name}, and run "
                "that shard again"
            )
    seen: dict[Hashable, str] = {}
    lines: list[str] = []
    for part in parts:
        lines += _checked_lines(part, expected, key, record, seen)
    absent = expected - seen.keys() - excused
    if absent:
        sample = ", ".join(repr(k) for k in sorted(absent, key=repr)[:5])
        raise InputError(f"{out}: {len(absent)} key(s) written by no shard, e.g. {sample}")
    configs = _shard_configs(parts)
    with atomic_open(out) as fh:
        fh.writelines(lines)
    if configs:  # the configuration that made the shards (one for all) now describes the merged file
        with atomic_open(config_path(out)) as fh:
            fh.write(configs[0])
    if remove_parts:
        remove_shard_files(out, count)
    return len(lines)


def _checked_lines(
    part: Path,
    expected: AbstractSet[Hashable],
    key: Callable[[dict[str, Any]], Hashable],
    record: type[Record] | None,
    seen: dict[Hashable, str],
) -> list[str]:
    """The lines of one shard, each a record of a key of the stage not seen before (``seen`` grows)."""
    _repair_torn_tail(part)
    lines = []
    with part.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{part}:{lineno}"
            row = parse_json_line(line, where)
            if record is not None:
                try:
                    record.from_dict(row)
                except (RecordError, TypeError) as exc:
                    raise InputError(f"{where}: {exc}") from None
            k = key(row)
            if k in seen:
                raise InputError(f"{where}: key {k!r} already written at {seen[k]}; shards overlap")
            if k not in expected:
                raise InputError(f"{where}: key {k!r} does not belong to this stage")
            seen[k] = where
            lines.append(line if line.endswith("\n") else line + "\n")
    return lines


def remove_shard_files(out: Path, count: int, side_suffixes: tuple[str, ...] = ()) -> None:
    """Remove the shard files of ``out`` (and their markers, sidecars and side files) once they are merged."""
    for index in range(count):
        part = shard_path(out, index, count)
        for path in (part, done_path(part), part.with_name(part.name + RUNNING), config_path(part)):
            path.unlink(missing_ok=True)
        for suffix in side_suffixes:
            part.with_name(part.name.removesuffix(".jsonl") + suffix).unlink(missing_ok=True)


def _shard_configs(parts: list[Path]) -> list[str]:
    """The configuration records beside the shard files; shards made with different configurations never merge."""
    texts = [config_path(p).read_text(encoding="utf-8") for p in parts if config_path(p).exists()]
    if len({json.dumps(json.loads(t), sort_keys=True) for t in texts}) > 1:
        names = ", ".join(config_path(p).name for p in parts)
        raise InputError(
            f"{parts[0].parent}: shards made with different configurations ({names}); redo the odd ones"
        )
    return texts
