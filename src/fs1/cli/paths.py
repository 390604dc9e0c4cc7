"""`fs1 paths`: KG paths between each question's entities and its answer entities, one PathRecord per question.

A thin command over :class:`fs1.kg.PathFinder`; pyoxigraph/httpx load inside the command so ``fs1 --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fs1.cli.app import BENCHMARK_FORMAT_HELP, app, console, merge_shards_option, shard_option, user_errors
from fs1.cli.schema import schema_options
from fs1.errors import ConfigError
from fs1.kg.settings import EndpointOptions, SearchSettings

INCOMPLETE = "incomplete"  # records whose search met answers the KG gave up on or gave in part

if TYPE_CHECKING:
    from fs1.kg import KG
    from fs1.records import Question


@app.command("paths")
@schema_options(SearchSettings, param="settings")
@schema_options(
    EndpointOptions, param="endpoint", panels=dict.fromkeys(EndpointOptions.model_fields, "SPARQL endpoint")
)
def paths(
    settings: SearchSettings,
    endpoint: EndpointOptions,
    bench: str = typer.Argument(
        ..., help="'sample' (bundled), an fs1-format JSONL/JSON/Parquet file, a dataset file, or a hub id."
    ),
    fmt: str = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="PathRecords JSONL, appended record by record."),
    kg: str | None = typer.Option(
        None,
        "--kg",
        help="local:FILE (N-Triples/Turtle, Wikidata shape), local:DIR (Oxigraph store) or sparql:URL "
        "(sparql: alone = query.wikidata.org). Default: the bundled mini-KG.",
    ),
    limit: int | None = typer.Option(None, "--limit", min=0, help="Only the first N questions."),
    resume: bool = typer.Option(False, "--resume", help="Skip question IDs already in --out."),
    retry_errors: bool = typer.Option(
        False,
        "--retry-errors",
        help="With --resume: drop status=error records from --out and search them again.",
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Query cache and built stores (default $FS1_CACHE_DIR or ~/.cache/fs1)."
    ),
    shard: str | None = shard_option(
        "search",
        "Shards of a sparql: KG on different nodes need --no-cache or a --cache-dir each (one SQLite file).",
    ),
    merge_shards: int | None = merge_shards_option("Search", "question"),
) -> None:
    """Find the fewest-hop KG paths from question entities to answer entities (Freebase MIDs mapped via P646).

    Per (question entity, answer entity) pair: 1 hop, else 2, … up to --max-hops; both edge directions;
    item-to-item direct claims only; all shortest paths up to --max-paths; hubs and deny-listed predicates skipped.
    Joint paths link several question entities to the answer through one node.

    One record per question: ID, status (found | none | no_entities | error), hops, paths (triples with labels),
    verbalised (the "subject, relation, object" lines of the fs1 teacher prompt).

    Example: fs1 paths sample --out paths.jsonl --kg local:my_wikidata_subset.nt

    For array jobs: run `--shard I/N` once per I (e.g. I = $SLURM_ARRAY_TASK_ID), then the same command with
    `--merge-shards N` instead of `--shard`.
    """
    from fs1.data import load_benchmark
    from fs1.io import check_resume_config, completed_keys, read_jsonl_rows, write_jsonl_atomic
    from fs1.kg import validate_question_ids
    from fs1.kg.finder import ERROR
    from fs1.run.shards import mark_done, parse_shard, shard_path, shard_slice
    from fs1.run.shards import merge_shards as merge_parts

    with user_errors():
        questions = load_benchmark(bench, limit=limit, fmt=fmt)
        for question in questions:
            validate_question_ids(question)
        if merge_shards is not None:
            if shard is not None:
                raise ConfigError("give either --shard or --merge-shards, not both")
            merged = merge_parts(out, merge_shards, {q.ID for q in questions}, _key, remove_parts=False)
            console.print(
                f"merged {merge_shards} shards into {out}: {merged} path records, every question once"
            )
            return
        if shard is not None:
            index, count = parse_shard(shard)
            questions, out = shard_slice(questions, index, count), shard_path(out, index, count)
        if out.is_file() and not resume:
            raise ConfigError(f"{out} exists: pass --resume to continue it, or remove it")
        check_resume_config(out, _resume_config(kg, settings, endpoint), resume=resume)
        if retry_errors and out.exists():
            kept = [row for _, row in read_jsonl_rows(out) if row.get("status") != ERROR]
            write_jsonl_atomic(out, kept)
        done = completed_keys(out, key=_key) if resume else set()
        todo = [q for q in questions if q.ID not in done]
        graph = _open(kg, cache_dir, endpoint)
        with graph, _recording(out, bench, graph) as recorded:
            counts = _run(graph, settings, todo, out)
            recorded.update(counts)
        if shard is not None and not counts.get(ERROR):  # a shard with errors is not done: --retry-errors
            mark_done(out)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != INCOMPLETE)
    if counts.get(INCOMPLETE):
        summary += f"; {counts[INCOMPLETE]} met answers the KG gave up on or gave in part (meta.incomplete)"
    console.print(
        f"wrote {sum(n for s, n in counts.items() if s != INCOMPLETE)} path records to {out} "
        f"({summary or 'nothing to do'}; {len(done)} already there)"
    )
    if counts.get(ERROR):
        console.print(
            "[yellow]some questions failed; rerun with --resume --retry-errors to search them again[/]"
        )
        raise typer.Exit(1)


def _key(row: dict) -> str:
    """The question a path record belongs to: what --resume skips and --merge-shards checks."""
    return str(row.get("ID"))


def _resume_config(kg: str | None, settings: SearchSettings, endpoint: EndpointOptions) -> dict:
    """What decides a path record, kept beside --out so that --resume cannot mix KGs, graphs or search settings."""
    batching = {"pair_batch", "label_batch"}  # how queries are grouped, not what they find
    config = {"command": "paths", "kg": kg or "bundled", **settings.model_dump(mode="json", exclude=batching)}
    if (kg or "").startswith(
        "sparql:"
    ):  # the graphs asked decide the data (added only when set: older files)
        config |= {
            k: list(v) for k, v in endpoint.model_dump(include={"default_graph", "named_graph"}).items() if v
        }
    return config


def _open(spec: str | None, cache_dir: Path | None, endpoint: EndpointOptions) -> KG:
    """Open the KG; endpoint options apply to ``sparql:`` only. An endpoint is probed at once (its engine and
    limits, fs1.kg.profile), so an unreachable one or an option it cannot honour is a one-line error up front."""
    from fs1.kg import KGError, open_kg

    try:
        if not (spec or "").startswith("sparql:"):
            return open_kg(spec, cache_dir=cache_dir)
        graph = open_kg(spec, cache_dir=cache_dir, **endpoint.model_dump())
        try:
            profile = graph.describe()  # type: ignore[attr-defined]
        except BaseException:
            graph.close()
            raise
    except KGError as exc:
        raise ConfigError(str(exc)) from None
    console.print(f"endpoint: {_endpoint_line(profile)}", highlight=False)
    return graph


def _endpoint_line(profile: dict) -> str:
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


@contextmanager
def _recording(out: Path, bench: str, graph: KG) -> Iterator[dict[str, int]]:
    """The side manifest of ``out`` (``OUT.manifest.json``): what made it, and for ``sparql:`` the endpoint's
    profile and traffic (engine, graphs, caps, requests, incomplete answers). Yields the counts to record."""
    from fs1.manifest import recording, side_manifest_path

    counts: dict[str, int] = {}
    with recording(side_manifest_path(out), inputs={"benchmark": bench, "kg": graph.spec}) as manifest:
        try:
            yield counts
        finally:
            manifest["paths"] = dict(counts)
            describe = getattr(graph, "describe", None)
            if describe is not None:
                manifest["kg_endpoint"] = describe()


def _run(graph: KG, settings: SearchSettings, questions: list[Question], out: Path) -> dict[str, int]:
    """Search every question, appending each record as soon as it is made; returns counts per status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fs1.io import JsonlAppender
    from fs1.kg import PathFinder

    finder = PathFinder(graph, settings)
    counts: dict[str, int] = {}
    columns = (TextColumn("paths"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with JsonlAppender(out) as sink, Progress(*columns, console=console) as bar:
        task = bar.add_task("paths", total=len(questions))
        for question in questions:
            record = finder.record(question)
            sink.write(record)
            counts[record.status] = counts.get(record.status, 0) + 1
            if record.meta.get("incomplete"):
                counts[INCOMPLETE] = counts.get(INCOMPLETE, 0) + 1
            bar.advance(task)
    return counts
