"""The reference budget-forcing algorithm (docs/protocol.md §5), kept only as the baseline of benchmark P1.

One question at a time; every round re-tokenises the whole thinking so far to count tokens, and calls the engine
with the full history (prompt + all text) as a new prompt, so the history is prefilled again each round. A budget
sweep runs each budget from scratch. Decisions follow the same rules as ``fs1.generate.budget`` (min-think with
``" Wait,"``, the 32-token margin, the forced answer marker, a greedy answer capped at 256 tokens).
"""

from __future__ import annotations

from dataclasses import replace

from fs1.backends.base import Backend, SamplingParams
from fs1.prompts import ANSWER_MARKER, ANSWER_MAX_TOKENS, BUDGET_MARGIN_TOKENS, FORCED_ANSWER, WAIT


def _complete(backend: Backend, history: str, params: SamplingParams):  # noqa: ANN202
    """One engine call on the whole history as a fresh prompt (prefilled in full)."""
    seqs = backend.open([history])
    try:
        return backend.continue_(seqs, params)[0]
    finally:
        backend.close(seqs)


def reference_budget_forcing(
    backend: Backend,
    prompt: str,
    budget: int,
    params: SamplingParams,
    *,
    min_think_tokens: int | None = None,
    answer_max_tokens: int = ANSWER_MAX_TOKENS,
) -> dict:
    """Budget-force one question; returns ``text``, ``think_tokens``, ``waits``, ``answer_tokens``."""
    thinking, waits = "", 0
    think_params = replace(params, n=1, stop=[ANSWER_MARKER])
    while True:
        used = backend.count_tokens(thinking)  # re-tokenise everything so far to count it
        if used >= budget:
            break
        out = _complete(backend, prompt + thinking, replace(think_params, max_tokens=budget - used))
        thinking += out.text
        if out.finish_reason == "length":
            break
        used = backend.count_tokens(thinking)
        if min_think_tokens is not None and used < min_think_tokens and budget - used > BUDGET_MARGIN_TOKENS:
            thinking += WAIT
            waits += 1
            continue
        break
    forced = FORCED_ANSWER.lstrip("\n") if (prompt + thinking).endswith("\n") else FORCED_ANSWER
    answer_params = replace(
        params, n=1, temperature=0.0, top_p=1.0, top_k=-1, stop=[], max_tokens=answer_max_tokens
    )
    answer = _complete(backend, prompt + thinking + forced, answer_params)
    return {
        "text": thinking + forced + answer.text,
        "think_tokens": backend.count_tokens(thinking),
        "waits": waits,
        "answer_tokens": answer.tokens,
    }
