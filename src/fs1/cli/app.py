"""The Typer application object and shared CLI helpers; command modules register on ``app``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from fs1.data.detect import DATASET_FORMATS

app = typer.Typer(
    name="fs1",
    help="fs1: KG-grounded reasoning traces, fine-tuning and test-time-scaled factual QA evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)  # never wrap paths in messages


@app.callback()
def _redacted_terminal() -> None:
    """Every command's terminal output passes through fs1.redact: a password in a URL, an API key echoed by a
    server, never reaches the screen (or a terminal log), whichever library prints it."""
    import sys

    from fs1.redact import RedactingStream, redact_argv

    redact_argv(sys.argv)  # registers the secrets of the command line, in every encoding
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


# The --format of every command that takes a benchmark (data convert has its own, with the same choices).
BENCHMARK_FORMAT_HELP = (
    f"Format of a benchmark file: auto (told from its contents), fs1, or a dataset's own: {', '.join(DATASET_FORMATS)} "
    "(read as `fs1 data convert` would, without writing a file)."
)

BENCHMARK_OPTION = typer.Option(
    ...,
    "--benchmark",
    "-b",
    help="'sample' (bundled), an fs1-format JSONL/JSON/Parquet file, a dataset file, or a hub id.",
)
FORMAT_OPTION = typer.Option("auto", "--format", help=BENCHMARK_FORMAT_HELP)


def reflow_help(typer_app: typer.Typer) -> None:
    """Give every command its docstring as paragraphs: Typer's rich help keeps a docstring's hard line breaks, so
    lines wrapped at 110 columns in the source would break mid-sentence on the terminal."""
    import inspect

    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = as_paragraphs(inspect.getdoc(info.callback) or "")
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


def as_paragraphs(text: str) -> str:
    """Join the lines of each blank-line-separated paragraph; lists and indented blocks keep their lines."""
    blocks = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        keep = any(
            line.startswith((" ", "-", "*", "•")) or line[:2].rstrip(".").isdigit() for line in lines[1:]
        )
        blocks.append(block if keep else " ".join(line.strip() for line in lines))
    return "\n\n".join(blocks)


@contextmanager
def recorded(
    manifest: Path, log: Path, *, seed: int, inputs: dict[str, Any], verbose: bool
) -> Iterator[None]:
    """A standalone command's provenance and quiet console: ``manifest`` written around the body (start, end,
    seeds, versions), library output sent to ``log`` (and the terminal too when ``verbose``)."""
    from fs1.manifest import recording
    from fs1.stage_log import stage_log

    with recording(manifest, seeds={"run": seed}, inputs=inputs), stage_log(log, verbose=verbose):
        yield


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a problem the user can fix (``Fs1Error``, a missing file, an invalid setting) as one line, exit code 2.

    Any other exception is a bug and keeps its traceback.
    """
    from fs1.errors import Fs1Error, validation_message

    try:
        yield
    except Fs1Error as exc:
        _fail(escape(str(exc)))
    except OSError as exc:
        _fail(describe_os_error(exc))
    except ValueError as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        _fail(escape(validation_message(exc, prefix="")))


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(2) from None


def describe_os_error(exc: OSError) -> str:
    """One line naming the path(s) and the OS's reason, e.g. ``out/: Permission denied``."""
    reason = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return escape(f"{' -> '.join(paths)}: {reason}" if paths else reason)


def shard_option(verb: str, note: str = "") -> Any:
    """``--shard I/N`` of a per-question command (generate, distill, paths): worded once, ``verb`` names its work."""
    return typer.Option(
        None,
        "--shard",
        help=f"I/N: {verb} only shard I (0-based) of N contiguous question slices, into OUT.shard-I-of-N.jsonl."
        + (f" {note}" if note else ""),
    )


def merge_shards_option(verb: str, key: str) -> Any:
    """``--merge-shards N``: the merge of the shard files that ``--shard`` wrote, checking every ``key`` once."""
    return typer.Option(
        None,
        "--merge-shards",
        min=1,
        help=f"{verb} nothing: merge the N shard files of --out into --out, checking every {key} once.",
    )


def chosen_shard(shard: str | None, merge_shards: int | None) -> Any:
    """The part ``--shard I/N`` asks for (a ``fs1.run.driver.Shard``; None: every question); ``--shard`` and
    ``--merge-shards`` exclude each other."""
    from fs1.errors import ConfigError
    from fs1.run.driver import Shard
    from fs1.shards import parse_shard

    if shard is not None and merge_shards is not None:
        raise ConfigError("give either --shard or --merge-shards, not both")
    return None if shard is None else Shard(*parse_shard(shard))
