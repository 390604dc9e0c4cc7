"""The paths stage (``fs1 paths`` and the run's ``paths`` stage): one ``PathRecord`` per question, appended as it
is found, so a killed search resumes where it stopped.

Its ``Stage`` (``PATHS``) is what the driver (``fs1.run.driver``) slices into shards and merges, every question once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.kg.base import KG
from fs1.kg.settings import EndpointOptions, SearchSettings
from fs1.records import PathRecord, Question
from fs1.stage import Described, Stage

OUTPUT = "paths.jsonl"
ERROR = "error"  # the status of a record whose search failed (fs1.kg.finder.ERROR)
INCOMPLETE = "incomplete"  # records whose search met answers the KG gave up on or gave in part


@dataclass
class PathsSpec:
    """How to search: the KG (``open_kg``'s spec; None = the bundled mini-KG), the search settings, the query cache
    and built stores, and for ``sparql:`` how the endpoint is asked. ``announce``: where to say which engine a
    ``sparql:`` KG turned out to be (the command's console)."""

    kg: str | None = None
    settings: SearchSettings = field(default_factory=SearchSettings)
    cache_dir: Path | None = None
    endpoint: EndpointOptions | None = None
    retry_errors: bool = False  # with resume: drop status=error records and search them again
    progress: bool = True
    announce: Callable[[str], None] | None = None


@dataclass
class PathsSummary:
    """Records written now, by status (and how many met incomplete answers), those already in the file (resume),
    and the endpoint's description (``sparql:`` only)."""

    counts: dict[str, int]
    already: int
    endpoint: dict[str, Any] | None = None

    @property
    def errors(self) -> int:
        return self.counts.get(ERROR, 0)

    @property
    def written(self) -> int:
        return sum(n for status, n in self.counts.items() if status != INCOMPLETE)


def path_key(row: dict[str, Any]) -> str:
    """The question a path record belongs to (one record per question): what resume skips and the merge checks."""
    return str(row.get("ID"))


def resume_config(spec: PathsSpec) -> dict[str, Any]:
    """What decides a path record, kept beside the output so that a resume cannot mix KGs, graphs or search
    settings."""
    batching = {"pair_batch", "label_batch"}  # how queries are grouped, not what they find
    config = {
        "command": "paths",
        "kg": spec.kg or "bundled",
        **spec.settings.model_dump(mode="json", exclude=batching),
    }
    if (spec.kg or "").startswith("sparql:") and spec.endpoint is not None:
        # the graphs asked decide the data (added only when set: older files resume)
        graphs = spec.endpoint.model_dump(include={"default_graph", "named_graph"})
        config |= {name: list(iris) for name, iris in graphs.items() if iris}
    return config


def expected_keys(questions: Sequence[Question], spec: PathsSpec) -> set[str]:
    return {q.ID for q in questions}


def run_paths(questions: list[Question], spec: PathsSpec, out: Path, resume: bool) -> PathsSummary:
    """Search every question not yet in ``out`` and append its record as soon as it is made."""
    from fs1.io import (
        check_resume_config,
        completed_keys,
        read_jsonl_rows,
        write_jsonl_atomic,
    )
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
        describe = getattr(graph, "describe", None)
        described = describe() if describe is not None else None
    return PathsSummary(counts, len(done), described)


def open_graph(spec: PathsSpec) -> KG:
    """Open the KG; endpoint options apply to ``sparql:`` only. An endpoint is probed at once (its engine and
    limits, fs1.kg.profile), so an unreachable one or an option it cannot honour is a one-line error up front."""
    from fs1.kg import KGError, open_kg

    try:
        if not (spec.kg or "").startswith("sparql:"):
            return open_kg(spec.kg, cache_dir=spec.cache_dir)
        options = (spec.endpoint or EndpointOptions()).model_dump()
        graph = open_kg(spec.kg, cache_dir=spec.cache_dir, **options)
        try:
            profile = graph.describe()  # type: ignore[attr-defined]
        except BaseException:
            graph.close()
            raise
    except KGError as exc:
        raise ConfigError(str(exc)) from None
    if spec.announce is not None:
        spec.announce(f"endpoint: {endpoint_line(profile)}")
    return graph


def endpoint_line(profile: dict[str, Any]) -> str:
    """The engine fs1 found behind a ``sparql:`` KG and the limits it works within, in one line."""
    parts = [
        f"{profile['engine']} {profile['version']}".strip() + f" ({profile['detected_by'] or 'not detected'})"
    ]
    if profile["max_rows"]:
        parts.append(f"at most {profile['max_rows']} rows per answer (longer lists are paged)")
    if profile["anytime_ms"]:
        parts.append(f"answers slower than {profile['anytime_ms'] / 1000:g} s count as possibly partial")
    if profile["default_graphs"]:
        parts.append("default graph " + ", ".join(profile["default_graphs"]))
    return "; ".join(parts + list(profile["notes"]))


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
            if record.meta.get("incomplete"):
                counts[INCOMPLETE] = counts.get(INCOMPLETE, 0) + 1
            bar.advance(task)
    return counts


def manifest_entries(summary: PathsSummary) -> dict[str, Any]:
    """What a standalone ``fs1 paths`` records in its side manifest beside provenance: the counts (the endpoint
    is ``ENDPOINT``'s)."""
    return {"paths": dict(summary.counts)}


def endpoint_facts(summary: PathsSummary) -> dict[str, Any] | None:
    """For ``sparql:``, the endpoint's profile and traffic (engine, graphs, caps, requests, incomplete answers)."""
    return summary.endpoint


# in a manifest as ``kg_endpoint``; fs1 run keeps it in ``paths/kg_endpoint.json``
ENDPOINT = Described(endpoint_facts, entry="kg_endpoint", file="kg_endpoint.json")


PATHS: Stage[PathsSpec] = Stage(
    name="paths", output=OUTPUT, record=PathRecord, key=path_key, run=run_paths, expected=expected_keys,
    manifest=manifest_entries, described=ENDPOINT,
)  # fmt: skip
