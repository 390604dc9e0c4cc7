"""Parallel sampling (docs/protocol.md §5): ``n`` samples per prompt, each with its own recorded seed.

Backends prefill each distinct prompt once and share it across its samples (``Backend.open``); the seeds come from
the caller so that a resumed run draws the same samples. Also holds ``ScaledOutput``, the result type of all test-time
scaling here, and ``continue_limited``, which continues sequences with per-sequence token caps on any backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from fs1.backends.base import Backend, Completion, SamplingParams, Sequence


@dataclass
class ScaledOutput:
    """One finished sample: which prompt and sample, the generated text and its token accounting."""

    prompt_index: int
    sample: int
    seed: int | None
    text: str
    finish_reason: str
    budget: int | None = None
    think_tokens: int | None = None
    answer_tokens: int | None = None
    waits: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def continue_limited(
    backend: Backend, seqs: list[Sequence], limits: list[int], params: SamplingParams
) -> list[Completion]:
    """Continue each sequence by at most its own limit, in one call where the backend honours per-sequence caps.

    Other backends get one call per distinct limit (still batched within each group), never a silently ignored cap.
    """
    if not seqs:
        return []
    if backend.supports_sequence_limits:
        for seq, limit in zip(seqs, limits, strict=True):
            seq.max_tokens = limit
        try:
            return backend.continue_(seqs, replace(params, n=1, max_tokens=max(limits)))
        finally:
            for seq in seqs:
                seq.max_tokens = None
    out: list[Completion | None] = [None] * len(seqs)
    for limit in sorted(set(limits)):
        group = [i for i, lim in enumerate(limits) if lim == limit]
        done = backend.continue_([seqs[i] for i in group], replace(params, n=1, max_tokens=limit))
        for i, completion in zip(group, done, strict=True):
            out[i] = completion
    return [c for c in out if c is not None]


def parallel_sample(
    backend: Backend,
    prompts: list[str],
    n: int,
    params: SamplingParams,
    seeds: list[int | None] | None = None,
) -> Iterator[ScaledOutput]:
    """Sample each prompt ``n`` times in one batch; ``seeds`` holds one seed per (prompt, sample), prompt-major."""
    seqs = backend.open(prompts, n=n, seeds=seeds)
    try:
        outs = backend.continue_(seqs, replace(params, n=1))
    finally:
        backend.close(seqs)
    for seq, out in zip(seqs, outs, strict=True):
        yield ScaledOutput(
            prompt_index=seq.prompt_index,
            sample=seq.sample,
            seed=seq.seed,
            text=out.text,
            finish_reason=out.finish_reason,
            answer_tokens=out.tokens,
        )
