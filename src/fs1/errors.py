"""The one error root: every problem a user can fix is an ``Fs1Error``; anything else is a bug.

The CLI prints an ``Fs1Error`` as one line (exit code 2) and lets every other exception show its traceback.
``InputError`` and ``ConfigError`` are also ``ValueError`` and ``BackendError`` a ``RuntimeError``, so code that
caught those builtin types keeps working. This module imports nothing (it sits below ``records``).
"""

from __future__ import annotations


class Fs1Error(Exception):
    """A problem the user can fix: bad input, a bad setting, a backend or server that failed."""


class InputError(Fs1Error, ValueError):
    """Bad user input (a file, a row, an id); the message names the file and, where it applies, the line."""


class ConfigError(Fs1Error, ValueError):
    """A bad setting: an option or experiment-file value out of range, or settings that do not go together."""


class BackendError(Fs1Error, RuntimeError):
    """A backend failed after its retries, or cannot honour a request."""


def validation_message(exc: object, *, prefix: str = "--", names: dict[str, str] | None = None) -> str:
    """One line from a pydantic ``ValidationError``: ``--field-name: reason; ...`` (``prefix=""``: field names as
    they are, for settings that are not command-line options). ``names`` maps a field to the option that sets it
    (``options`` -> ``--backend-option``); a key inside a mapping follows it (``--backend-option timout``)."""
    reasons = []
    for err in exc.errors():  # type: ignore[attr-defined]
        parts = [str(part) for part in err["loc"]]
        if names and parts and parts[0] in names:
            where = " ".join([names[parts[0]], *parts[1:]])
        else:
            loc = ".".join(parts)
            where = f"{prefix}{loc.replace('_', '-')}" if prefix else loc
        reasons.append(f"{where}: {err['msg']}" if parts else err["msg"])
    return "; ".join(reasons) or str(exc)
