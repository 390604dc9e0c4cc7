"""Token counts of server completions under fs1's contract (``fs1.backends.spelling``): the generated tokens that
spell the text, without the end-of-sequence token and without the tokens of the stop string that ended it.

Servers report ``usage.completion_tokens``, which counts those too (vLLM, llama.cpp). vLLM returns the generated ids
(``return_token_ids``, asked for by its dialect): an EOS or stop-token end drops the last id, a stop string is trimmed
by decoding the ids in place (primed with the prompt's last ids, as vLLM's detokenizer decodes them), with the local
tokenizer or the server's ``/detokenize``. Servers without ids: a completion that stopped counts the tokens of its
text (local tokenizer or the server's tokenize route); one cut by the cap, or one whose text cannot be counted here,
keeps the server's usage (``None``).
"""

from __future__ import annotations

from collections.abc import Callable

from fs1.backends.openai.protocol import Choice, normalise_finish
from fs1.backends.spelling import spelled_prefix

PRIME_TOKENS = 8  # prompt ids a decode is primed with (vLLM primes its incremental detokenizer with up to 5)

Decode = Callable[[list[int]], str | None]
Count = Callable[[str], int | None]


def choice_tokens(choice: Choice, decode: Decode, count: Count) -> int | None:
    """The contract's token count for one completions choice, or ``None`` when it cannot be told here."""
    ids, stopped = choice.token_ids, normalise_finish(choice.finish_reason) == "stop"
    if ids is None:  # a cut by the cap spent exactly the server's count; a stop left tokens out of the text
        return count(choice.text) if stopped else None
    if not stopped or not ids:
        return len(ids)
    if not isinstance(choice.stop_reason, str):  # end-of-sequence, or a stop token id: the last id
        return len(ids) - 1
    prime = (choice.prompt_token_ids or [])[-PRIME_TOKENS:]
    head = decode(prime)
    if head is None:
        return count(choice.text)

    def in_place(part: list[int]) -> str:
        full = decode(prime + part) or ""
        return full[len(head) :] if full.startswith(head) else (decode(part) or "")

    keep, rest = spelled_prefix(ids, choice.text, in_place)
    if not rest:
        return keep
    rest_count = count(rest)
    return None if rest_count is None else keep + rest_count
