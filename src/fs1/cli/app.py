"""The Typer application object and shared CLI helpers; command modules register on ``app``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

app = typer.Typer(
    name="fs1",
    help="fs1: KG-grounded reasoning traces, fine-tuning and test-time-scaled factual QA evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)  # never wrap paths in messages

# The --format of every command that takes a benchmark (data convert has its own, with the same choices).
BENCHMARK_FORMAT_HELP = (
    "Format of a benchmark file: auto (told from its contents), fs1, or a dataset's own: mintaka, simpleqa, "
    "cwq, webqsp, grailqa, exaqt (read as `fs1 data convert` would, without writing a file)."
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected user-facing errors into a one-line message and exit code 2 (no stack trace)."""
    from fs1.backends.base import BackendError
    from fs1.io import InputError
    from fs1.records import RecordError

    try:
        yield
    except (InputError, RecordError, BackendError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


def parse_int_list(text: str | None) -> list[int] | None:
    """Parse ``"1,2,4"`` into ``[1, 2, 4]``; ``None`` stays ``None``."""
    if text is None or not text.strip():
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
