"""The numpy batch sampler of the local backends draws the same tokens as a plain torch sampler from the same seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from fs1.backends.base import SamplingParams
from fs1.backends.decoding import make_generator, sample_rows


def sample_next(  # the earlier torch sampler, kept as the reference
    logits: torch.Tensor,
    params: SamplingParams,
    seen: torch.Tensor | None,
    generators: Sequence[torch.Generator],
) -> list[int]:
    """Straightforward torch version: full-vocabulary penalty, torch.topk/sort, softmax, inverse-CDF draw."""
    logits = logits.float()
    if params.repetition_penalty != 1.0 and seen is not None:
        penalised = torch.where(
            logits > 0, logits / params.repetition_penalty, logits * params.repetition_penalty
        )
        logits = torch.where(seen, penalised, logits)
    if params.greedy:
        return logits.argmax(dim=-1).tolist()
    logits = logits / params.temperature
    if params.top_k and params.top_k > 0:
        # Work in the reduced top-k space: the sort for top-p then covers k entries, not the vocabulary.
        values, index = torch.topk(logits, min(params.top_k, logits.shape[-1]), dim=-1)
    else:
        values, index = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(values, dim=-1)
    if params.top_p < 1.0:
        before = torch.cumsum(probs, dim=-1) - probs
        probs = probs.masked_fill(before > params.top_p, 0.0)  # keeps at least the first (before == 0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    # Inverse-CDF sampling with one uniform draw per row from that row's own generator (vectorised otherwise).
    draws = torch.cat([torch.rand(1, generator=gen) for gen in generators])
    cdf = torch.cumsum(probs, dim=-1)
    picks = torch.searchsorted(cdf, (draws * cdf[:, -1]).unsqueeze(1)).clamp_(max=probs.shape[-1] - 1)
    return index.gather(1, picks).squeeze(1).tolist()


CASES = [
    SamplingParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05),
    SamplingParams(temperature=1.3, top_p=1.0, top_k=-1, repetition_penalty=1.0),
    SamplingParams(temperature=0.6, top_p=0.95, top_k=0, repetition_penalty=1.2),
    SamplingParams(temperature=0.0, repetition_penalty=1.3),  # greedy, penalty still applies
]


@pytest.mark.parametrize("params", CASES)
def test_numpy_sampler_matches_torch_sampler(params: SamplingParams) -> None:
    rng = np.random.default_rng(5)
    logits = (rng.standard_normal((16, 500)) * 4).astype(np.float32)
    seen = rng.random((16, 500)) < 0.1
    for step in range(20):  # many draws: the same picks every time, not just usually
        seeds = [100 * step + row for row in range(16)]
        ours = sample_rows(logits.copy(), params, seen, [make_generator(s) for s in seeds])
        theirs = sample_next(
            torch.from_numpy(logits), params, torch.from_numpy(seen), [make_generator(s) for s in seeds]
        )
        assert ours == theirs
        logits = np.roll(logits, 7, axis=1)


def test_numpy_sampler_respects_top_k_and_penalty() -> None:
    logits = np.tile(np.arange(10, dtype=np.float32), (4, 1))  # token 9 best, then 8, ...
    seen = np.zeros((4, 10), dtype=bool)
    seen[:, 9] = True
    params = SamplingParams(temperature=5.0, top_k=2, repetition_penalty=100.0)
    picks = sample_rows(logits, params, seen, [make_generator(s) for s in range(4)])
    assert set(picks) <= {8, 7}  # 9 is penalised out of the top two
