"""`fs1 paths`: KG paths between each question's entities and its answer entities, one PathRecord per question.

Parse the options, run the paths stage (``fs1.kg.stage.PATHS``) through the driver, print what it did;
pyoxigraph/httpx load inside the command so ``fs1 --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import (
    FORMAT_OPTION,
    app,
    chosen_shard,
    console,
    merge_shards_option,
    shard_option,
    user_errors,
)
from fs1.cli.schema import schema_options
from fs1.kg.settings import EndpointOptions, SearchSettings

_HELP = """Find the fewest-hop KG paths from question entities to answer entities (Freebase MIDs mapped via P646).

Per (question entity, answer entity) pair: 1 hop, else 2, … up to --max-hops; both edge directions;
item-to-item direct claims only; all shortest paths up to --max-paths; hubs and deny-listed predicates skipped.
Joint paths link several question entities to the answer through one node.

One record per question: ID, status (found | none | no_entities | error), hops, paths (triples with labels),
verbalised (the "subject, relation, object" lines of the fs1 teacher prompt).

Example: fs1 paths sample --out paths.jsonl --kg local:my_wikidata_subset.nt

For array jobs: run `--shard I/N` once per I (e.g. I = $SLURM_ARRAY_TASK_ID), then the same command with
`--merge-shards N` instead of `--shard`."""

_BENCH = typer.Argument(
    ..., help="'sample' (bundled), an fs1-format JSONL/JSON/Parquet file, a dataset file, or a hub id."
)
_KG = typer.Option(
    None,
    "--kg",
    help="local:FILE (N-Triples/Turtle, Wikidata shape), local:DIR (Oxigraph store) or sparql:URL "
    "(sparql: alone = query.wikidata.org). Default: the bundled mini-KG.",
)
_RETRY_ERRORS = typer.Option(
    False, "--retry-errors", help="With --resume: drop status=error records from --out and search them again."
)
_CACHE_DIR = typer.Option(
    None, "--cache-dir", help="Query cache and built stores (default $FS1_CACHE_DIR or ~/.cache/fs1)."
)
_SHARD = shard_option(
    "search",
    "Shards of a sparql: KG on different nodes need --no-cache or a --cache-dir each (one SQLite file).",
)


@app.command("paths", help=_HELP)
@schema_options(SearchSettings, param="settings")
@schema_options(
    EndpointOptions, param="endpoint", panels=dict.fromkeys(EndpointOptions.model_fields, "SPARQL endpoint")
)
def paths(
    settings: SearchSettings,
    endpoint: EndpointOptions,
    bench: str = _BENCH,
    fmt: str = FORMAT_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="PathRecords JSONL, appended record by record."),
    kg: str | None = _KG,
    limit: int | None = typer.Option(None, "--limit", min=0, help="Only the first N questions."),
    resume: bool = typer.Option(False, "--resume", help="Skip question IDs already in --out."),
    retry_errors: bool = _RETRY_ERRORS,
    cache_dir: Path | None = _CACHE_DIR,
    shard: str | None = _SHARD,
    merge_shards: int | None = merge_shards_option("Search", "question"),
) -> None:
    from fs1.data import load_benchmark
    from fs1.kg.stage import PATHS, PathsSpec
    from fs1.run.driver import merge, part_file, run_part, side_recording

    with user_errors():
        part = chosen_shard(shard, merge_shards)
        questions = load_benchmark(bench, limit=limit, fmt=fmt)
        announce = lambda line: console.print(line, highlight=False)  # noqa: E731
        spec = PathsSpec(kg, settings, cache_dir, endpoint, retry_errors, announce=announce)
        if merge_shards is not None:
            merged, _ = merge(PATHS, spec, questions, out, merge_shards)
            console.print(
                f"merged {merge_shards} shards into {out}: {merged} path records, every question once"
            )
            return
        written = part_file(out, part)
        inputs = {"benchmark": bench, "kg": kg or "bundled"}
        record = side_recording(written, seed=None, inputs=inputs, verbose=False)
        summary = run_part(PATHS, spec, questions, out, part, resume=resume, recording=record)
    _print_summary(summary, written)


def _print_summary(summary, written: Path) -> None:  # noqa: ANN001
    from fs1.kg.stage import INCOMPLETE

    counts = summary.counts
    line = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != INCOMPLETE)
    if counts.get(INCOMPLETE):
        line += f"; {counts[INCOMPLETE]} met answers the KG gave up on or gave in part (meta.incomplete)"
    console.print(
        f"wrote {summary.written} path records to {written} ({line or 'nothing to do'}; {summary.already} "
        "already there)"
    )
    if summary.errors:
        console.print(
            "[yellow]some questions failed; rerun with --resume --retry-errors to search them again[/]"
        )
        raise typer.Exit(1)
