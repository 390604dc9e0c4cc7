"""A quiet console: while a stage runs, library chatter goes to the stage's ``log.txt`` instead of the terminal.

Chatter is what transformers, TRL, datasets, accelerate, PEFT, torch and the HTTP clients print on their own: log
records, Python warnings (``FutureWarning``, the ``pin_memory`` notice), download and "Loading weights" bars, and
lines printed to stdout (TRL's ``{'loss': …}`` dicts). fs1's own progress bars and messages write to stderr through
Rich and stay on the terminal. ``verbose`` keeps everything on the terminal as well as in the log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from fs1.redact import RedactingStream

LIBRARY_LOGGERS = (
    "transformers", "trl", "datasets", "accelerate", "peft", "torch", "huggingface_hub", "httpx", "httpcore",
    "urllib3", "filelock", "llama_cpp", "vllm", "pyoxigraph",
)  # fmt: skip
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_ACTIVE: list[Path] = []  # the logs of the stages running in this process, innermost last


def active_log() -> Path | None:
    """The log of the innermost stage running now (``None`` outside one): where a library that starts processes of
    its own (vLLM's engine core) can point their output."""
    return _ACTIVE[-1] if _ACTIVE else None


def side_log_path(out: Path) -> Path:
    """The log of a standalone command writing the file ``out``: ``traces.jsonl`` → ``traces.log.txt``."""
    return out.with_name(out.stem + ".log.txt")


class _Tee:
    """A text stream writing to several streams (verbose mode: terminal and log)."""

    def __init__(self, *streams: IO[str]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def stage_log(path: Path | None, *, verbose: bool = False) -> Iterator[None]:
    """Send library output to ``path`` (appended) for the duration; ``None`` leaves everything as it is."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", buffering=1) as raw, warnings.catch_warnings():
        log: IO[str] = RedactingStream(raw)  # type: ignore[assignment]  # a library may log a URL with a password
        # The filters stay as they are (Python's defaults show each distinct warning once); only where they go changes.
        warnings.showwarning = _warning_writer(log, verbose)
        out: IO[str] = _Tee(sys.stdout, log) if verbose else log  # type: ignore[assignment]
        _ACTIVE.append(path)
        try:
            with (
                _library_loggers(log, verbose),
                _quiet_progress_bars(verbose),
                contextlib.redirect_stdout(out),
            ):
                yield
        finally:
            _ACTIVE.pop()


def _warning_writer(log: IO[str], verbose: bool) -> Any:
    terminal = sys.stderr

    def show(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        log.write(text)
        if verbose:
            terminal.write(text)

    return show


@contextlib.contextmanager
def _library_loggers(log: IO[str], verbose: bool) -> Iterator[None]:
    """Each library logger writes to the log only (verbose: to its usual handlers too), restored afterwards."""
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate))
        if not verbose:
            logger.handlers = []
            logger.propagate = False
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate


@contextlib.contextmanager
def _quiet_progress_bars(verbose: bool) -> Iterator[None]:
    """Turn off the tqdm bars of the Hugging Face libraries (weight loading, dataset maps) unless verbose."""
    if verbose:
        yield
        return
    switches = []
    for module, off, on, is_on in (
        (
            "transformers.utils.logging",
            "disable_progress_bar",
            "enable_progress_bar",
            "is_progress_bar_enabled",
        ),
        ("datasets.utils.logging", "disable_progress_bar", "enable_progress_bar", "is_progress_bar_enabled"),
        (
            "huggingface_hub.utils",
            "disable_progress_bars",
            "enable_progress_bars",
            "are_progress_bars_disabled",
        ),
    ):
        mod = sys.modules.get(module) or _try_import(module)
        if mod is None or not hasattr(mod, off):
            continue
        was_on = getattr(mod, is_on)()
        if is_on == "are_progress_bars_disabled":
            was_on = not was_on
        getattr(mod, off)()
        switches.append((mod, on, was_on))
    try:
        yield
    finally:
        for mod, on, was_on in switches:
            if was_on:
                getattr(mod, on)()


def _try_import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None
