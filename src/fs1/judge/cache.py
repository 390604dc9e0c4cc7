"""The judge's verdict cache: one fsynced JSONL line per verdict, so a ``kill -9`` loses no paid call.

Keys are hashes of (judge model, prompt name, resolved judge sampling with its seed and sample count, the exact
messages: gold list and predicted answer), made by ``Judge.key``, so verdicts of different judge settings never mix; a repeated answer costs one call across questions, runs and output directories that share a
cache file. A torn last line left by a crash is cut off when the cache is opened again
(``fs1.io.JsonlAppender``). Jobs that run at the same time (the judge stages of several runs on a cluster) share the
file safely: lines are written and read under an exclusive lock on ``<cache>.lock``. Only valid verdicts are stored: an
unparseable reply is asked again next time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fs1.io import InputError, JsonlAppender, read_jsonl_rows

CACHE_FILE = "judge_cache.jsonl"


@dataclass(frozen=True)
class CachedVerdict:
    """A stored verdict: the key it answers, the verdict, the judge's raw reply, the model and prompt."""

    key: str
    verdict: str
    reply: str
    model: str
    prompt: str


class VerdictCache:
    """A JSONL-backed dict of verdicts; ``get`` reads memory, ``put`` appends one fsynced line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._verdicts: dict[str, CachedVerdict] = {}
        self._appender: JsonlAppender | None = None
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
        for lineno, row in read_jsonl_rows(self.path):
            try:
                entry = CachedVerdict(
                    str(row["key"]),
                    str(row["verdict"]),
                    str(row["reply"]),
                    str(row["model"]),
                    str(row["prompt"]),
                )
            except KeyError as exc:
                raise InputError(
                    f"{self.path}:{lineno}: judge cache line lacks field {exc.args[0]!r}"
                ) from None
            self._verdicts[entry.key] = entry

    def __len__(self) -> int:
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
    ) -> None:
        """Store a verdict (appended to the file at once; token counts kept for cost accounting, and the
        verdicts of the samples when the judge asked more than one)."""
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
