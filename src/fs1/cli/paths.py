"""`fs1 paths`: KG paths between each question's entities and its answer entities, one PathRecord per question.

A thin command over :class:`fs1.kg.PathFinder`; pyoxigraph/httpx load inside the command so ``fs1 --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fs1.cli.app import BENCHMARK_FORMAT_HELP, app, console, merge_shards_option, shard_option, user_errors
from fs1.cli.schema import schema_options
from fs1.errors import ConfigError
from fs1.kg.settings import SearchSettings

if TYPE_CHECKING:
    from fs1.kg import KG
    from fs1.records import Question


@app.command("paths")
@schema_options(SearchSettings, param="settings")
def paths(
    settings: SearchSettings,
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
    user_agent: str | None = typer.Option(
        None,
        "--user-agent",
        help="User-Agent for sparql: (default $FS1_USER_AGENT or a descriptive fs1 one).",
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="sparql: queries in flight (default 1 for WDQS, 4 elsewhere)."
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=0.01, help="sparql: requests per second (WDQS default 5)."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Query cache and built stores (default $FS1_CACHE_DIR or ~/.cache/fs1)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="sparql: do not keep answered queries on disk."),
    server_timeout: int | None = typer.Option(
        None,
        "--server-timeout",
        min=1,
        help="QLever only: per-query time limit in s (its `timeout` parameter).",
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
        check_resume_config(out, _resume_config(kg, settings), resume=resume)
        if retry_errors and out.exists():
            kept = [row for _, row in read_jsonl_rows(out) if row.get("status") != ERROR]
            write_jsonl_atomic(out, kept)
        done = completed_keys(out, key=_key) if resume else set()
        todo = [q for q in questions if q.ID not in done]
        endpoint: dict[str, object] = {
            "user_agent": user_agent,
            "concurrency": concurrency,
            "rate": rate,
            "cache": not no_cache,
            "server_timeout_s": server_timeout,
        }
        graph = _open(kg, cache_dir, endpoint)
        with graph:
            counts = _run(graph, settings, todo, out)
        if shard is not None and not counts.get(ERROR):  # a shard with errors is not done: --retry-errors
            mark_done(out)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
    console.print(
        f"wrote {sum(counts.values())} path records to {out} ({summary}; {len(done)} already there)"
    )
    if counts.get(ERROR):
        console.print(
            "[yellow]some questions failed; rerun with --resume --retry-errors to search them again[/]"
        )
        raise typer.Exit(1)


def _key(row: dict) -> str:
    """The question a path record belongs to: what --resume skips and --merge-shards checks."""
    return str(row.get("ID"))


def _resume_config(kg: str | None, settings: SearchSettings) -> dict:
    """What decides a path record, kept beside --out so that --resume cannot mix KGs or search settings."""
    batching = {"pair_batch", "label_batch"}  # how queries are grouped, not what they find
    return {"command": "paths", "kg": kg or "bundled", **settings.model_dump(mode="json", exclude=batching)}


def _open(spec: str | None, cache_dir: Path | None, endpoint: dict[str, object]) -> KG:
    """Open the KG; endpoint options apply to ``sparql:`` only; a KG failure becomes a one-line error."""
    from fs1.kg import KGError, open_kg

    try:
        if (spec or "").startswith("sparql:"):
            return open_kg(spec, cache_dir=cache_dir, **endpoint)
        return open_kg(spec, cache_dir=cache_dir)
    except KGError as exc:
        raise ConfigError(str(exc)) from None


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
            bar.advance(task)
    return counts
