"""The one way tests run the ``fs1`` command in-process: ``runner`` (Typer's ``CliRunner``, for the full result) and
``cli`` (the exit code and the output with white space folded)."""

from __future__ import annotations

from typer.testing import CliRunner

from fs1.cli.main import app

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    """Exit code and output (white space folded, so Rich's line wrapping never splits a phrase) of ``fs1 ARGS``."""
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())
