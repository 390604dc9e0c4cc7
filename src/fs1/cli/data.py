"""`fs1 data`: convert a dataset's published file into the fs1 benchmark format, write the bundled sample,
and summarise a benchmark. Thin commands over :mod:`fs1.data`."""

from __future__ import annotations

from pathlib import Path

import typer

from fs1.cli.app import app, console, user_errors
from fs1.data.detect import FORMATS

data_app = typer.Typer(
    help="Benchmark data: convert published dataset files to the fs1 format, write the bundled sample.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

FORMAT_HELP = (
    f"Input format: {', '.join(FORMATS)}, or auto (told from the file's "
    "contents, then its name; official releases and the copies KGQA projects circulate, JSON or JSON Lines)."
)
SOURCE_HELP = (
    "Keep only this source_of_data (repeatable; full name or cwq/exaqt/grailqa/simpleqa/mintaka/webqsp)."
)


@data_app.command("convert")
def convert_command(
    input: Path = typer.Argument(
        ..., help="A dataset file: official release or a circulating copy (JSON/JSONL/CSV)."
    ),
    fmt: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output JSONL in the fs1 benchmark format (atomic write)."
    ),
    kg: str | None = typer.Option(
        None,
        "--kg",
        help="Label answers given only as Freebase ids through Wikidata P646 on this KG: local:FILE|DIR or "
        "sparql:URL (sparql: alone = query.wikidata.org). Without it such questions keep the ids and are marked.",
    ),
) -> None:
    """Convert a dataset file into fs1 benchmark JSONL; prints one line: loaded, skipped by reason, format.

    Output rows: ID, question, main_answers, answer_aliases, source_of_data, question/answer entities, hops,
    answer_type, topic and the dataset's own metadata in meta. Records without any gold answer are skipped, counted
    and named (the first few on the console, all of them with their reasons in a side file: cwq.jsonl → cwq.skipped.jsonl);
    writing no question at all (a test split, an empty file) is an error (exit 1).
    """
    from fs1.data import NoQuestionsError

    with user_errors():
        try:
            loaded = _convert(input, fmt, out, kg)
        except NoQuestionsError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
    from fs1.data import conversion_line, skipped_path, warn_ids_only

    console.print(f"{conversion_line(input, loaded)} → wrote {out}", soft_wrap=True)
    if loaded.skipped:
        console.print(f"skipped records, with their reasons: {skipped_path(out)}", soft_wrap=True)
    warn_ids_only(
        loaded, warn=lambda text: console.print(f"[yellow]warning:[/] {text}"), kg_given=kg is not None
    )


def _convert(input: Path, fmt: str, out: Path, kg_spec: str | None):  # noqa: ANN202
    from fs1.data import convert

    if kg_spec is None:
        return convert(input, fmt, out)
    from fs1.kg import KGError, open_kg

    try:
        with open_kg(kg_spec) as kg:
            return convert(input, fmt, out, labeller=_freebase_labeller(kg))
    except KGError as exc:
        raise KGError(f"--kg {kg_spec}: {exc}") from None


def _freebase_labeller(kg):  # noqa: ANN001, ANN202
    """KG ids → English labels: Freebase ids through the Wikidata items carrying them as P646 (the paths stage's
    mapping), Wikidata ids (TimeQuestions, Mintaka answers without a label) directly.

    ``g.…`` ids have no P646 value (Wikidata keeps those under P2671), so they stay unlabelled."""
    from fs1.kg import PathFinder
    from fs1.kg.ids import is_mid, is_qid, normalise_mid

    graph = PathFinder(kg).graph

    def labeller(ids: list[str]) -> dict[str, list[str]]:
        mids = [i for i in ids if is_mid(i)]
        qids = [i for i in ids if is_qid(i)]
        items = graph.mids_to_qids(mids)
        labels = graph.labels(sorted({q for qs in items.values() for q in qs} | set(qids)))
        found = {m: [labels[q] for q in items[normalise_mid(m)] if labels.get(q)] for m in mids}
        return found | {q: [labels[q]] for q in qids if labels.get(q)}

    return labeller


@data_app.command("sample")
def sample_command(
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the bundled sample benchmark (JSONL)."),
    source: list[str] | None = typer.Option(None, "--source", "-s", help=SOURCE_HELP),
    limit: int | None = typer.Option(None, "--limit", "-n", min=0, help="Keep at most this many questions."),
) -> None:
    """Write the bundled sample benchmark (about 60 questions) as JSONL.

    Ten true-fact questions in the style of each of the six fs1 datasets, with Wikidata question/answer
    entities and hop counts that match the bundled mini-KG.
    """
    with user_errors():
        from fs1.data import load_benchmark
        from fs1.io import write_jsonl_atomic

        written = write_jsonl_atomic(out, load_benchmark("sample", limit=limit, sources=source))
    console.print(f"sample: wrote {written} questions to {out}")


@data_app.command("stats")
def stats_command(
    spec: str = typer.Argument(
        "sample", help="'sample', a fs1-format .jsonl/.json/.parquet file, or a hub id owner/name[:split]."
    ),
    source: list[str] | None = typer.Option(None, "--source", "-s", help=SOURCE_HELP),
) -> None:
    """Count a benchmark's questions by source, hops and answer type."""
    from collections import Counter

    from rich.table import Table

    with user_errors():
        from fs1.data import load_benchmark
        from fs1.scoring.summary import hops_slice

        questions = load_benchmark(spec, sources=source)
    table = Table(title=f"{spec}: {len(questions)} questions")
    hop_slices = ("1", "2", "3", "3+", "unset")  # the summary's by_hops keys (4 hops and more pooled into 3+)
    for column in ("source", "questions", f"hops {'/'.join(hop_slices)}", "answer types"):
        table.add_column(column)
    for name in sorted({q.source_of_data for q in questions}):
        group = [q for q in questions if q.source_of_data == name]
        hops = Counter(h if (h := hops_slice(q.hops)) in hop_slices else "unset" for q in group)
        types = Counter(q.answer_type or "unset" for q in group)
        table.add_row(
            name,
            str(len(group)),
            "/".join(str(hops.get(h, 0)) for h in hop_slices),
            ", ".join(f"{t} {n}" for t, n in types.most_common()),
        )
    typer.echo(_render(table))


def _render(table: object) -> str:
    from rich.console import Console

    capture = Console(width=120)
    with capture.capture() as cap:
        capture.print(table)
    return cap.get()
