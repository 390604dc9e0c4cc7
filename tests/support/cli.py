"""Running the ``fs1`` command in-process, as the hardening tests probe it."""

from __future__ import annotations

from typer.testing import CliRunner

from fs1.cli.main import app


def cli(*args: str) -> tuple[int, str]:
    """Exit code and output (white space folded, so Rich's line wrapping never splits a phrase) of ``fs1 ARGS``."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())
