"""The paths stage (``fs1 paths`` and the run's ``paths`` stage): one ``PathRecord`` per question, appended as it
is found, so a killed search resumes where it stopped.

Its ``Stage`` (``PATHS``) is what the driver (``fs1.run.driver``) slices into shards and merges, every question once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fs1.errors import ConfigError
from fs1.kg.base import KG
from fs1.kg.settings import SearchSettings
from fs1.records import PathRecord, Question
from fs1.stage import Stage

OUTPUT = "paths.jsonl"
ERROR = "error"  # the status of a record whose search failed (fs1.kg.finder.ERROR)


class EndpointOptions(BaseModel):
    """The ``sparql:`` endpoint options of ``fs1 paths`` (the rest of ``EndpointSettings`` keeps its defaults)."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = Field(
        None, description="User-Agent for sparql: (default $FS1_USER_AGENT or a descriptive fs1 one)."
    )
    concurrency: int | None = Field(
        None, ge=1, description="sparql: queries in flight (default 1 for WDQS, 4 elsewhere)."
    )
    rate: float | None = Field(None, ge=0.01, description="sparql: requests per second (WDQS default 5).")
    cache_dir: Path | None = Field(
        None, description="Query cache and built stores (default $FS1_CACHE_DIR or ~/.cache/fs1)."
    )
    no_cache: bool = Field(False, description="sparql: do not keep answered queries on disk.")
    server_timeout: int | None = Field(
        None, ge=1, description="QLever only: per-query time limit in s (its `timeout` parameter)."
    )

    def endpoint(self) -> dict[str, Any]:
        """These options as ``open_kg``'s endpoint keywords."""
        return {
            "user_agent": self.user_agent,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "cache": not self.no_cache,
            "server_timeout_s": self.server_timeout,
        }


@dataclass
class PathsSpec:
    """How to search: the KG (``open_kg``'s spec; None = the bundled mini-KG), the search settings, and for
    ``sparql:`` the endpoint options and query cache."""

    kg: str | None = None
    settings: SearchSettings = field(default_factory=SearchSettings)
    cache_dir: Path | None = None
    endpoint: dict[str, Any] = field(default_factory=dict)
    retry_errors: bool = False  # with resume: drop status=error records and search them again
    progress: bool = True


@dataclass
class PathsSummary:
    """Records written now, by status, and those already in the file (resume)."""

    counts: dict[str, int]
    already: int

    @property
    def errors(self) -> int:
        return self.counts.get(ERROR, 0)


def path_key(row: dict[str, Any]) -> str:
    """The question a path record belongs to (one record per question): what resume skips and the merge checks."""
    return str(row.get("ID"))


def resume_config(spec: PathsSpec) -> dict[str, Any]:
    """What decides a path record, kept beside the output so that a resume cannot mix KGs or search settings."""
    batching = {"pair_batch", "label_batch"}  # how queries are grouped, not what they find
    settings = spec.settings.model_dump(mode="json", exclude=batching)
    return {"command": "paths", "kg": spec.kg or "bundled", **settings}


def expected_keys(questions: Sequence[Question], spec: PathsSpec) -> set[str]:
    return {q.ID for q in questions}


def run_paths(questions: list[Question], spec: PathsSpec, out: Path, resume: bool) -> PathsSummary:
    """Search every question not yet in ``out`` and append its record as soon as it is made."""
    from fs1.io import check_resume_config, completed_keys, read_jsonl_rows, write_jsonl_atomic
    from fs1.kg.finder import validate_question_ids

    for question in questions:
        validate_question_ids(question)
    if out.is_file() and out.stat().st_size > 0 and not resume:
        raise ConfigError(f"{out} exists: pass --resume to continue it, or remove it")
    check_resume_config(out, resume_config(spec), resume=resume)
    if spec.retry_errors and out.exists():
        write_jsonl_atomic(out, [row for _, row in read_jsonl_rows(out) if row.get("status") != ERROR])
    done = completed_keys(out, path_key) if resume else set()
    todo = [q for q in questions if q.ID not in done]
    with open_graph(spec) as graph:
        counts = _search(graph, spec, todo, out)
    return PathsSummary(counts, len(done))


def open_graph(spec: PathsSpec) -> KG:
    """Open the KG; endpoint options apply to ``sparql:`` only; a KG failure becomes a one-line error."""
    from fs1.kg import KGError, open_kg

    try:
        if (spec.kg or "").startswith("sparql:"):
            return open_kg(spec.kg, cache_dir=spec.cache_dir, **spec.endpoint)
        return open_kg(spec.kg, cache_dir=spec.cache_dir)
    except KGError as exc:
        raise ConfigError(str(exc)) from None


def _search(graph: KG, spec: PathsSpec, questions: list[Question], out: Path) -> dict[str, int]:
    """Search every question, appending each record as soon as it is made; returns counts per status."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fs1.io import JsonlAppender
    from fs1.kg.finder import PathFinder

    finder = PathFinder(graph, spec.settings)
    counts: dict[str, int] = {}
    columns = (TextColumn("paths"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, console=Console(stderr=True), disable=not spec.progress)
    with JsonlAppender(out) as sink, bar:
        task = bar.add_task("paths", total=len(questions))
        for question in questions:
            record = finder.record(question)
            sink.write(record)
            counts[record.status] = counts.get(record.status, 0) + 1
            bar.advance(task)
    return counts


PATHS: Stage[PathsSpec] = Stage(
    name="paths", output=OUTPUT, record=PathRecord, key=path_key, run=run_paths, expected=expected_keys
)
