"""Parallel sampling: n samples per prompt, prompt prefilled once, seeds recorded and decisive."""

from __future__ import annotations

import pytest

from fs1.backends.base import SamplingParams
from fs1.backends.hf import TransformersBackend
from fs1.generate.parallel import parallel_sample

PARAMS = SamplingParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, max_tokens=10)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):  # noqa: ANN001, ANN201
    return TransformersBackend(str(tiny_model_dir), threads=1, device="cpu", dtype="float32")


def test_n_samples_prefill_once_with_recorded_seeds(tiny):  # noqa: ANN001
    prompts = [tiny.chat_prompt("What is the capital of Peru?"), tiny.chat_prompt("Who wrote Ulysses?")]
    seeds = list(range(100, 116)) + list(range(200, 216))
    tiny.stats.prefilled_tokens = 0
    outs = list(parallel_sample(tiny, prompts, 16, PARAMS, seeds))
    prompt_tokens = sum(len(tiny._encode_prompt(p)) for p in prompts)
    # Each prompt once (all but its last token), plus each sample's own last prompt token.
    assert tiny.stats.prefilled_tokens == prompt_tokens - 2 + 32
    assert [(o.prompt_index, o.sample, o.seed) for o in outs] == [
        (p, s, seeds[p * 16 + s]) for p in range(2) for s in range(16)
    ]
    assert len({o.text for o in outs[:16]}) >= 12  # sampled, not copies
    assert all(o.answer_tokens == 10 and o.finish_reason == "length" for o in outs)
    again = list(parallel_sample(tiny, prompts, 16, PARAMS, seeds))
    assert [o.text for o in again] == [o.text for o in outs]
