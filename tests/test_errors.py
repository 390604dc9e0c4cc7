"""The one error root: what the CLI prints as one line (Fs1Error) and what it lets through as a bug."""

from __future__ import annotations

import pytest
import typer

from fs1.backends.base import BackendError as BaseBackendError
from fs1.cli.app import user_errors
from fs1.errors import BackendError, ConfigError, Fs1Error, InputError
from fs1.io import InputError as IoInputError
from fs1.kg.base import KGError
from fs1.records import RecordError
from tests.support.cli import runner


def test_every_user_error_is_an_fs1_error_and_old_names_still_import() -> None:
    assert IoInputError is InputError and BaseBackendError is BackendError
    for cls in (InputError, ConfigError, BackendError, RecordError, KGError):
        assert issubclass(cls, Fs1Error)
    # Callers that caught the builtin types keep working.
    assert issubclass(InputError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(BackendError, RuntimeError)


def _app(exc: Exception) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        with user_errors():
            raise exc

    return app


@pytest.mark.parametrize("exc", [InputError("data.jsonl:3: bad row"), ConfigError("--n: must be >= 1")])
def test_fs1_errors_are_one_line_with_exit_code_2(exc: Exception) -> None:
    result = runner.invoke(_app(exc), [])
    assert result.exit_code == 2
    assert str(exc) in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_plain_value_error_is_a_bug_and_keeps_its_traceback() -> None:
    result = runner.invoke(_app(ValueError("internal invariant broken")), [])
    assert isinstance(result.exception, ValueError)  # not swallowed into a user message
    assert result.exit_code == 1


def test_a_pydantic_validation_error_becomes_one_line_naming_the_field() -> None:
    from fs1.generate import GenerateConfig

    app = typer.Typer()

    @app.command()
    def make() -> None:
        with user_errors():
            GenerateConfig(n=0)

    result = runner.invoke(app, [])
    assert result.exit_code == 2
    assert (
        "n: Input should be greater than or equal to 1" in result.output and "Traceback" not in result.output
    )
