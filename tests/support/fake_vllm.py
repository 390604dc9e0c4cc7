"""A stand-in ``vllm`` module for CPU tests of the vllm backend (vLLM itself cannot run without a CUDA GPU).

It keeps vLLM's public shape where fs1 touches it: ``LLM(model=..., **engine_args)`` with ``get_tokenizer()`` and
``generate(prompts, sampling_params, use_tqdm=...)`` taking ``{"prompt_token_ids": [...]}`` prompts and one
``SamplingParams`` or a list; ``SamplingParams`` with vLLM's field names (unknown names raise ``TypeError``);
``RequestOutput`` / ``CompletionOutput`` with ``token_ids``, ``text``, ``finish_reason``, ``stop_reason`` and
``num_cached_tokens``. The behaviour copies vLLM's contracts: a matched stop string is cut from ``text`` but its
tokens stay in ``token_ids`` (``stop_reason`` = the string); end-of-sequence ends with ``stop_reason`` None and the
EOS id in ``token_ids`` but not in the text; automatic prefix caching reports cached full blocks.
The "model" is a script: ``script(context_text, rng)`` returns the continuation (``rng`` is seeded per sample).
"""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BLOCK = 16  # tokens per KV block; prefix caching reuses whole blocks only, as vLLM does
Script = Callable[[str, random.Random], str]


class SamplingParams:
    """vLLM's ``SamplingParams`` fields that fs1 uses (a subset with the same names and defaults)."""

    def __init__(
        self,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        repetition_penalty: float = 1.0,
        max_tokens: int | None = 16,
        stop: list[str] | None = None,
        seed: int | None = None,
        skip_special_tokens: bool = True,
        spaces_between_special_tokens: bool = True,
    ) -> None:
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        self.n, self.temperature, self.top_p, self.top_k = n, temperature, top_p, top_k
        self.repetition_penalty, self.max_tokens, self.stop, self.seed = (
            repetition_penalty,
            max_tokens,
            stop or [],
            seed,
        )
        self.skip_special_tokens = skip_special_tokens
        self.spaces_between_special_tokens = spaces_between_special_tokens


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    finish_reason: str | None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True
    num_cached_tokens: int = 0


@dataclass
class LLM:
    """Records its engine arguments and every request; see the module docstring for the behaviour."""

    model: str
    tokenizer_obj: Any = None
    script: Script | None = None
    engine_args: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[list[int], SamplingParams]] = field(default_factory=list)
    _blocks: set[tuple[int, ...]] = field(default_factory=set)

    def get_tokenizer(self) -> Any:
        return self.tokenizer_obj

    def generate(self, prompts: list[dict[str, Any]], sampling_params: Any = None, use_tqdm: bool = True
                 ) -> list[RequestOutput]:  # fmt: skip
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError("the lengths of prompts and sampling_params must be the same")
        return [
            self._one(i, p["prompt_token_ids"], sp)
            for i, (p, sp) in enumerate(zip(prompts, params, strict=True))
        ]

    def _cached(self, ids: list[int]) -> int:
        hits = 0
        for end in range(BLOCK, len(ids), BLOCK):  # the last token is always computed
            if tuple(ids[:end]) not in self._blocks:
                break
            hits = end
        for end in range(BLOCK, len(ids) + 1, BLOCK):
            self._blocks.add(tuple(ids[:end]))
        return hits

    def _one(self, i: int, ids: list[int], sp: SamplingParams) -> RequestOutput:
        self.requests.append((list(ids), sp))
        cached = self._cached(ids)
        context = self.tokenizer_obj.decode(ids, skip_special_tokens=False)
        outputs = []
        for sample in range(sp.n):
            seed = (
                None
                if sp.temperature == 0
                else (sp.seed if sp.seed is not None else random.randrange(1 << 30))
            )
            rng = random.Random(f"{seed}:{sample}")
            outputs.append(self._decode_script(sample, context, rng, sp))
        return RequestOutput(str(i), None, list(ids), outputs, num_cached_tokens=cached)

    def _decode_script(
        self, index: int, context: str, rng: random.Random, sp: SamplingParams
    ) -> CompletionOutput:
        tok = self.tokenizer_obj
        assert self.script is not None
        planned = tok.encode(self.script(context, rng), add_special_tokens=False) + [tok.eos_token_id]
        out: list[int] = []
        for token in planned:
            if sp.max_tokens is not None and len(out) >= sp.max_tokens:
                return CompletionOutput(index, tok.decode(out, skip_special_tokens=sp.skip_special_tokens), out, None,
                                        None, "length")  # fmt: skip
            out.append(token)
            if token == tok.eos_token_id:
                return CompletionOutput(index, tok.decode(out[:-1], skip_special_tokens=sp.skip_special_tokens), out,
                                        None, None, "stop", None)  # fmt: skip
            text = tok.decode(out, skip_special_tokens=sp.skip_special_tokens)
            for stop in sp.stop:
                if stop in text:
                    return CompletionOutput(index, text[: text.index(stop)], out, None, None, "stop", stop)
        raise AssertionError("unreachable: the plan ends with EOS")


def install(monkeypatch: Any, tokenizer: Any, script: Script) -> types.ModuleType:
    """Put a fresh stand-in ``vllm`` into ``sys.modules`` (undone by ``monkeypatch``); ``module.engines`` lists LLMs."""
    module = types.ModuleType("vllm")
    module.engines = []  # type: ignore[attr-defined]

    def make_llm(model: str, **engine_args: Any) -> LLM:
        llm = LLM(model=model, tokenizer_obj=tokenizer, script=script, engine_args=engine_args)
        module.engines.append(llm)  # type: ignore[attr-defined]
        return llm

    module.LLM = make_llm  # type: ignore[attr-defined]
    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module
