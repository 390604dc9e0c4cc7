"""The served model's context window, for the ``openai`` backend: what fits, and what a full context looks like.

vLLM publishes the context length of each served model in ``GET /v1/models`` (``max_model_len``); an option
(``context_length``) gives it for servers that do not. With it known, each raw-text request is fitted before it is
sent, as the in-process backends do: a prompt that leaves no room finishes with reason ``context`` (nothing sent, the
run goes on), ``max_tokens`` is capped at the room, and a ``length`` caused by that cap is reported as ``context`` (so
budget forcing never reads a full context as a spent budget). vLLM >= 0.20 clamps ``max_tokens`` to the room itself
and calls the cut ``length``; older servers answer HTTP 400. A 400 that names the context (any server's wording in
``CONTEXT_ERRORS``) is read as ``context`` too, for servers whose window is not known here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fs1.backends.base import FINISH_CONTEXT, FINISH_LENGTH, Completion, SamplingParams

# How servers word "the prompt (+ max_tokens) does not fit the context" in a 400 (vLLM, SGLang, llama.cpp, OpenAI).
CONTEXT_ERRORS = (
    "maximum context length",
    "context length",
    "context_length_exceeded",
    "exceeds the available context size",
    "context size",
)


def is_context_error(status: int | None, message: str) -> bool:
    """Whether a failed request was refused because the prompt does not fit the model's context."""
    lowered = message.lower()
    return status == 400 and any(words in lowered for words in CONTEXT_ERRORS)


def context_completion() -> Completion:
    """What a sequence whose prompt fills the context gets: no text, reason ``context``."""
    return Completion(text="", tokens=0, finish_reason=FINISH_CONTEXT)


def model_context_length(models: dict[str, Any], served: str) -> int | None:
    """``max_model_len`` of ``served`` in a ``/v1/models`` reply (of its only model when the name is not listed)."""
    entries = [e for e in models.get("data") or [] if isinstance(e, dict)]
    named = [e for e in entries if e.get("id") == served] or (entries if len(entries) == 1 else [])
    for entry in named:
        length = entry.get("max_model_len")
        if isinstance(length, int) and not isinstance(length, bool) and length > 0:
            return length
    return None


class ContextWindow:
    """The served model's context length (from the option, else ``/v1/models``, read once) and the fitting of one
    raw-text request into it; ``count`` counts a prompt's tokens as the server does."""

    def __init__(
        self,
        configured: int | None,
        models: Callable[[], dict[str, Any]],
        served: Callable[[], str],
        count: Callable[[str], int],
    ) -> None:
        self._length = configured
        self._read = configured is not None
        self._models, self._served, self._count = models, served, count

    @property
    def length(self) -> int | None:
        if not self._read:
            self._length = model_context_length(self._models(), self._served())
            self._read = True
        return self._length

    def fit(self, prompt: str, params: SamplingParams) -> tuple[SamplingParams, bool] | None:
        """``params`` with ``max_tokens`` capped to the room left after ``prompt``, and whether the cap is the
        context's; ``None`` when not even one new token fits. Unknown context: ``params`` unchanged."""
        if self.length is None:
            return params, False
        room = self.length - self._count(prompt)
        if room <= 0:
            return None
        if room >= params.max_tokens:
            return params, False
        return dataclasses.replace(params, max_tokens=room), True


def read_as_context(out: Completion) -> Completion:
    """A completion cut by a cap that was the context's room: a full context, not a spent budget."""
    if out.finish_reason == FINISH_LENGTH:
        out.finish_reason = FINISH_CONTEXT
    return out
