"""The judge's verdict cache: one fsynced JSONL line per verdict, so a ``kill -9`` loses no paid call.

Keys are hashes of (judge model, prompt name, resolved judge sampling with its seed and sample count, the exact
messages: gold list and predicted answer), made by ``Judge.key``, so verdicts of different judge settings never mix; a repeated answer costs one call across questions, runs and output directories that share a
cache file. A torn last line left by a crash is cut off when the cache is opened again
(``fs1.io.JsonlAppender``). Jobs that run at the same time (the judge stages of several runs on a cluster) share the
file safely: lines are written and read under an exclusive lock on ``<cache>.lock``. Only valid verdicts are stored: an
unparseable reply is asked again next time. Each line names the engine that gave its verdict by an id (``engine_id``),
described in full on the first line naming it, so a run answered wholly from the cache still records its engine.

A cache is a file anyone may edit or damage, so each line is checked when it is read: a JSON object whose ``verdict``
is one its own prompt preset can give (``verdicts``: preset → verdicts), whose key, reply, model and prompt are text
and whose token counts are whole numbers. A line that fails is skipped — its request is asked again — and the count of
skipped lines, with the first reason, is one warning. The cache must be a regular file: a device would be read for
ever.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.io import InputError, JsonlAppender

log = logging.getLogger(__name__)

CACHE_FILE = "judge_cache.jsonl"
_TEXT_FIELDS = ("key", "verdict", "reply", "model", "prompt")
_COUNT_FIELDS = ("prompt_tokens", "completion_tokens")


class BadCacheLine(ValueError):
    """Why one cache line cannot be trusted (internal: the line is skipped and counted)."""


def check_line(row: Any, verdicts: Mapping[str, frozenset[str]]) -> CachedVerdict:
    """The verdict a cache line holds, or ``BadCacheLine`` saying what is wrong with it."""
    if not isinstance(row, dict):
        raise BadCacheLine(f"not a JSON object but {type(row).__name__}")
    for name in _TEXT_FIELDS:
        if not isinstance(row.get(name), str):
            raise BadCacheLine(f"{name} should be text, found {_shown(row.get(name))}")
    allowed = verdicts.get(row["prompt"])
    if allowed is None:
        raise BadCacheLine(f"unknown judge prompt {_shown(row['prompt'])}")
    if row["verdict"] not in allowed:
        raise BadCacheLine(f"verdict {_shown(row['verdict'])} is not one the {row['prompt']} prompt gives")
    for name in _COUNT_FIELDS:
        value = row.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise BadCacheLine(f"{name} should be a count, found {_shown(value)}")
    votes = row.get("votes")
    if votes is not None and not (
        isinstance(votes, dict)
        and all(v in allowed and isinstance(n, int) and not isinstance(n, bool) for v, n in votes.items())
    ):
        raise BadCacheLine(f"votes should map {row['prompt']} verdicts to counts, found {_shown(votes)}")
    engine = row.get("engine_id")
    return CachedVerdict(
        row["key"],
        row["verdict"],
        row["reply"],
        row["model"],
        row["prompt"],
        engine if isinstance(engine, str) else None,
    )


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class CachedVerdict:
    """A stored verdict: the key it answers, the verdict, the judge's raw reply, the model and prompt, and the id of
    the engine that gave it (``engine_id``; ``None`` for lines written before engines were kept)."""

    key: str
    verdict: str
    reply: str
    model: str
    prompt: str
    engine: str | None = None


def engine_id(facts: Mapping[str, Any]) -> str:
    """A short stable id of an engine's description (``Backend.describe``), which lines name it by."""
    text = json.dumps(facts, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class VerdictCache:
    """A JSONL-backed dict of verdicts; ``get`` reads memory, ``put`` appends one fsynced line.

    ``verdicts``: the verdicts each prompt preset can give (default: fs1's presets); lines holding anything else
    are skipped, and ``skipped`` counts them."""

    def __init__(self, path: str | Path, verdicts: Mapping[str, frozenset[str]] | None = None) -> None:
        if verdicts is None:  # the presets of fs1.judge.judge (imported here: it imports this module)
            from fs1.judge.judge import prompt_verdicts

            verdicts = prompt_verdicts()
        self.path = Path(path)
        self.verdicts = verdicts
        self.skipped = 0
        self.engines: dict[str, dict[str, Any]] = {}  # engine id -> the engine's description
        self._verdicts: dict[str, CachedVerdict] = {}
        self._appender: JsonlAppender | None = None
        if self.path.exists() and not self.path.is_file():
            raise InputError(
                f"{self.path}: the judge cache must be a regular file (--cache), not a device or folder"
            )
        if self.path.exists():
            # Opening the appender first cuts a torn last line left by a crash; reading under its lock sees whole
            # lines only, even while other jobs of a cluster run append to the same cache.
            self._appender = JsonlAppender(self.path, shared=True)
            try:
                with self._appender.locked():
                    self._load()
            except BaseException:
                self.close()
                raise

    def _load(self) -> None:
        first_problem = None
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    row = _parsed(raw)
                    entry = check_line(row, self.verdicts)
                except BadCacheLine as exc:
                    self.skipped += 1
                    first_problem = first_problem or f"line {lineno}: {exc}"
                    continue
                self._verdicts[entry.key] = entry
                if entry.engine is not None and isinstance(row.get("engine"), dict):
                    self.engines.setdefault(entry.engine, row["engine"])
        if self.skipped:
            log.warning(
                "%s: %d judge cache line%s skipped, their requests asked again (first: %s)",
                self.path, self.skipped, "s" if self.skipped > 1 else "", first_problem,
            )  # fmt: skip

    def __len__(self) -> int:  # the valid verdicts held
        return len(self._verdicts)

    def __contains__(self, key: str) -> bool:
        return key in self._verdicts

    def get(self, key: str) -> CachedVerdict | None:
        """The stored verdict for ``key``, or ``None``."""
        return self._verdicts.get(key)

    def put(
        self,
        entry: CachedVerdict,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        votes: dict[str, int] | None = None,
        engine: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a verdict (appended to the file at once; token counts kept for cost accounting, and the
        verdicts of the samples when the judge asked more than one). ``engine``: the description of the engine that
        gave it, kept as an id on every line and in full on the first line naming that id (so a later run answered
        from the cache still says which engine its verdicts came from)."""
        if self._appender is None:
            self._appender = JsonlAppender(self.path, shared=True)
        row: dict[str, object] = {
            "key": entry.key,
            "verdict": entry.verdict,
            "reply": entry.reply,
            "model": entry.model,
            "prompt": entry.prompt,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
        if votes is not None:
            row["votes"] = votes
        if engine:
            named = engine_id(engine)
            entry = dataclasses.replace(entry, engine=named)
            row["engine_id"] = named
            if named not in self.engines:
                row["engine"] = self.engines[named] = dict(engine)
        self._appender.write(row)
        self._verdicts[entry.key] = entry

    def close(self) -> None:
        """Close the file (the cache stays readable in memory)."""
        if self._appender is not None:
            self._appender.close()
            self._appender = None

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadCacheLine("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadCacheLine(f"not JSON ({exc.msg})") from None
