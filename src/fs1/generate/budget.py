"""s1 budget forcing (docs/protocol.md §5), batched across questions and samples, with budget sweeps that continue.

Every sequence starts inside an opened thinking block. Each round continues **all** unfinished sequences together,
each capped by what is left of its budget; backends keep what they processed (KV / prefix cache), so a round feeds
only new tokens. An attempt to end thinking (the answer marker, or end-of-sequence) is cut and ``" Wait,"`` appended
while fewer than ``min_think_tokens`` were spent and more than ``margin`` tokens of the budget remain; at the budget
the answer marker is forced and the answer generated greedily (capped at 256 tokens).

A sweep over budgets ``B1 < B2 < ...`` runs one thinking trajectory per sequence: the answer for ``B1`` is generated on
a fork while the trajectory thinks on toward ``B2``. This is exact: every decision taken before ``B1`` ran out is
the one the ``B2`` process takes too (the margin rule only differs in its last 32 tokens, handled when resuming).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from fs1.backends.base import FINISH_CONTEXT, FINISH_LENGTH, Backend, SamplingParams, Sequence
from fs1.errors import ConfigError
from fs1.generate.parallel import ScaledOutput, continue_limited
from fs1.prompts import ANSWER_MARKER, ANSWER_MAX_TOKENS, BUDGET_MARGIN_TOKENS, FORCED_ANSWER, WAIT

THINKING, AT_BUDGET, TRIED_END, OUT_OF_CONTEXT, DONE = (
    "thinking",
    "at_budget",
    "tried_end",
    "out_of_context",
    "done",
)
THINK_END_BUDGET, THINK_END_NATURAL, THINK_END_CONTEXT = "budget", "natural", "context"


@dataclass
class BudgetConfig:
    """Budget forcing settings; defaults are the protocol's."""

    budgets: list[int]
    min_think_tokens: int | None = None
    answer_max_tokens: int = ANSWER_MAX_TOKENS
    margin: int = BUDGET_MARGIN_TOKENS
    wait: str = WAIT
    think_stops: list[str] = field(default_factory=lambda: [ANSWER_MARKER])
    forced_answer: str = FORCED_ANSWER
    continue_sweep: bool = (
        True  # False: each budget from scratch (the baseline the sweep saving is measured against)
    )

    def __post_init__(self) -> None:
        if not self.budgets or any(b <= 0 for b in self.budgets):
            raise ConfigError(f"budgets must be positive token counts, got {self.budgets}")
        self.budgets = sorted(set(self.budgets))
        if self.min_think_tokens is not None and self.min_think_tokens < 0:
            raise ConfigError(f"min_think_tokens must be >= 0, got {self.min_think_tokens}")


@dataclass
class _Track:
    """One sequence's thinking trajectory."""

    seq: Sequence
    think_tokens: int = 0
    waits: int = 0
    status: str = THINKING
    answer: ScaledOutput | None = None  # kept once thinking ended for good, reused for longer budgets


def _wants_wait(track: _Track, budget: int, cfg: BudgetConfig) -> bool:
    if cfg.min_think_tokens is None or track.think_tokens >= cfg.min_think_tokens:
        return False
    return budget - track.think_tokens > cfg.margin


def _final_end(track: _Track, cfg: BudgetConfig) -> bool:
    """An accepted end of thinking that no longer budget could undo (the minimum was reached)."""
    return cfg.min_think_tokens is None or track.think_tokens >= cfg.min_think_tokens


def _think(
    backend: Backend, tracks: list[_Track], budget: int, params: SamplingParams, cfg: BudgetConfig
) -> None:
    """Advance every track to the end of its thinking under ``budget`` (rounds batched across all tracks)."""
    wait_tokens = backend.count_tokens(cfg.wait)
    think_params = replace(params, n=1, stop=list(cfg.think_stops))
    for track in tracks:
        if track.status == AT_BUDGET:
            track.status = THINKING
    while True:
        # Ends tried under a shorter budget (or in the last round) are decided now: cut + Wait, or accepted.
        waiting = [t for t in tracks if t.status == TRIED_END and _wants_wait(t, budget, cfg)]
        if waiting:
            backend.append([t.seq for t in waiting], [cfg.wait] * len(waiting))
            for t in waiting:
                t.waits += 1
                t.think_tokens += wait_tokens
                t.status = THINKING
        active = [t for t in tracks if t.status == THINKING and t.think_tokens < budget]
        for t in tracks:
            if t.status == THINKING and t.think_tokens >= budget:
                t.status = AT_BUDGET
        if not active:
            return
        outs = continue_limited(
            backend, [t.seq for t in active], [budget - t.think_tokens for t in active], think_params
        )
        for track, out in zip(active, outs, strict=True):
            track.think_tokens += out.tokens
            if out.finish_reason == FINISH_LENGTH:
                track.status = AT_BUDGET
            elif out.finish_reason == FINISH_CONTEXT:  # the context is full: no budget, no Wait can go on
                track.status = OUT_OF_CONTEXT
            else:
                track.status = TRIED_END


def _answer(
    backend: Backend,
    tracks: list[_Track],
    budget: int | None,
    params: SamplingParams,
    cfg: BudgetConfig,
    fork: bool,
) -> list[ScaledOutput]:
    """Force the answer marker on (forks of) the tracks and generate the answers greedily."""
    if not tracks:
        return []
    seqs = backend.fork([t.seq for t in tracks]) if fork else [t.seq for t in tracks]
    # No doubled newline when the history already ends with one (the thinking may be empty: then the prompt's does).
    forced = [
        cfg.forced_answer.lstrip("\n") if (s.prompt + s.text).endswith("\n") else cfg.forced_answer
        for s in seqs
    ]
    backend.append(seqs, forced)
    answer_params = replace(
        params, n=1, temperature=0.0, top_p=1.0, top_k=-1, stop=[], max_tokens=cfg.answer_max_tokens
    )
    outs = backend.continue_(seqs, answer_params)
    results = []
    for track, seq, out in zip(tracks, seqs, outs, strict=True):
        end = {AT_BUDGET: THINK_END_BUDGET, OUT_OF_CONTEXT: THINK_END_CONTEXT}.get(
            track.status, THINK_END_NATURAL
        )
        results.append(
            ScaledOutput(
                prompt_index=seq.prompt_index,
                sample=seq.sample,
                seed=seq.seed,
                text=seq.text,
                finish_reason=out.finish_reason,
                budget=budget,
                think_tokens=track.think_tokens,
                answer_tokens=out.tokens,
                waits=track.waits,
                meta={"think_end": end},
            )
        )
    if fork:
        backend.close(seqs)
    return results


def _sweep(
    backend: Backend,
    prompts: list[str],
    n: int,
    seeds: list[int | None] | None,
    params: SamplingParams,
    cfg: BudgetConfig,
    budgets: list[int],
    record_budget: bool,
) -> Iterator[ScaledOutput]:
    tracks = [_Track(seq) for seq in backend.open(prompts, n=n, seeds=seeds)]
    try:
        for position, budget in enumerate(budgets):
            last = position == len(budgets) - 1
            live = [t for t in tracks if t.status != DONE]
            _think(backend, live, budget, params, cfg)
            # Tracks whose ending no longer budget can change answer once, on the trajectory itself.
            final = [
                t
                for t in live
                if (t.status == TRIED_END and _final_end(t, cfg)) or t.status == OUT_OF_CONTEXT
            ]
            open_ended = [t for t in live if t not in final]
            for track, out in zip(
                final, _answer(backend, final, budget, params, cfg, fork=False), strict=True
            ):
                track.answer, track.status = out, DONE
            # The others think on under the next budget: answer on forks (the last budget needs none).
            fresh = _answer(backend, open_ended, budget, params, cfg, fork=not last)
            answers = {id(t): out for t, out in zip(open_ended, fresh, strict=True)}
            for track in tracks:
                answer = answers.get(id(track)) or track.answer
                if answer is not None:
                    yield replace(answer, budget=budget if record_budget else None, meta=dict(answer.meta))
    finally:
        backend.close([t.seq for t in tracks])


def budget_forcing(
    backend: Backend,
    prompts: list[str],
    n: int,
    params: SamplingParams,
    cfg: BudgetConfig,
    seeds: list[int | None] | None = None,
    *,
    record_budget: bool = True,
) -> Iterator[ScaledOutput]:
    """Budget-forced samples for every prompt (ending in an open thinking block), sample and budget.

    Yields each budget's outputs as soon as they are complete (shorter budgets first), so callers can write them.
    ``record_budget=False`` leaves ``budget`` empty (thinking capped only by ``max_tokens``, no forcing asked for).
    """
    if cfg.continue_sweep:
        yield from _sweep(backend, prompts, n, seeds, params, cfg, cfg.budgets, record_budget)
        return
    for budget in cfg.budgets:
        yield from _sweep(backend, prompts, n, seeds, params, cfg, [budget], record_budget)
