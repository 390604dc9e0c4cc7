"""The token-count contract every backend keeps, and the one helper the engines that return raw ids need for it.

``Completion.tokens`` (and so a prediction's ``think_tokens`` / ``answer_tokens``) counts the **generated tokens that
spell the completion's text**: the end-of-sequence token and the tokens of a stop string that ended the completion
are not counted (the text leaves them out too). Where a stop string begins inside a token, that token is replaced by
the tokens of its part before the stop, as the text continues from there. transformers and llama.cpp decode token by
token and keep exactly these; vLLM (in-process, and its server when it returns token ids) returns the ids of the
stop string and the EOS as well, which ``spelled_prefix`` trims. The same greedy run therefore gives the same counts,
and budget forcing the same Waits, on every backend.
"""

from __future__ import annotations

from collections.abc import Callable

# How many trailing tokens may belong to a trimmed stop string / EOS (searched from the end).
TRIM_SEARCH_TOKENS = 64


def spelled_prefix(token_ids: list[int], text: str, decode: Callable[[list[int]], str]) -> tuple[int, str]:
    """``(keep, rest)``: the first ``keep`` ids decode to a prefix of ``text`` and ``rest`` is the text after it
    (to be re-encoded; empty unless a stop string began inside a token). ``decode`` decodes ids as they read in
    place (primed with the context before them). ``(0, text)`` when no prefix of the ids spells the text."""
    for keep in range(len(token_ids), max(-1, len(token_ids) - TRIM_SEARCH_TOKENS - 1), -1):
        decoded = decode(token_ids[:keep])
        if text.startswith(decoded):
            return keep, text[len(decoded) :]
    return 0, text
