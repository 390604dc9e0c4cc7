"""The ``vllm`` backend: offline ``vllm.LLM`` on a GPU, imported only when this backend is chosen.

Sequences are kept as token ids (prompt, generated tokens, tokenised forced text) and every ``continue_`` hands vLLM
the full id list as a ``TokensPrompt``; automatic prefix caching (``enable_prefix_caching=True``) finds the blocks it
already computed, so only new tokens are prefilled, and ``RequestOutput.num_cached_tokens`` tells ``stats`` how many
were reused. Ids, not re-tokenised text, carry a sequence from round to round so the model sees exactly the tokens
it produced. Raw text keeps special tokens (``skip_special_tokens=False``) so stop strings such as the s1 answer
marker ``<|im_start|>answer`` can match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fs1.backends.base import (
    Backend,
    BackendError,
    Completion,
    SamplingParams,
    Sequence,
    check_open_args,
    render_chat,
)
from fs1.backends.embedded import resolve_for_transformers

INSTALL_HINT = "pip install 'fs1[vllm]' (vLLM needs a CUDA GPU)"
# How many trailing generated tokens may belong to a trimmed stop string / EOS (searched from the end).
TRIM_SEARCH_TOKENS = 64


class VLLMOptions(BaseModel):
    """Engine options of the ``vllm`` backend (``load_backend("vllm", model, **options)``)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="Engine seed (sequences without their own seed draw from it).")
    tokenizer: str | None = Field(
        None, description="Tokenizer path or hub id when it differs from the model."
    )
    dtype: str = Field("auto", description="Weights dtype (auto, bfloat16, float16).")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take.")
    max_model_len: int | None = Field(None, gt=0, description="Context length cap; None = the model's.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs to shard the model over.")
    enforce_eager: bool = Field(False, description="Skip CUDA graph capture (faster start, slower decode).")
    enable_prefix_caching: bool = Field(
        True, description="Reuse computed prefix blocks (budget forcing needs it)."
    )


@dataclass
class _Ids:
    """Backend state of one sequence: every token id so far (prompt + generated + forced)."""

    ids: list[int]


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(
            f"the vllm backend needs the vllm package, which is not installed: {INSTALL_HINT}"
        ) from exc
    return vllm


class VLLMBackend(Backend):
    """Offline batched generation with vLLM; ``model`` is a checkpoint dir, a hub id, or ``smollm2-135m``."""

    name = "vllm"
    supports_sequence_limits = True  # each request carries its own SamplingParams

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model)
        self.options = VLLMOptions(**options)
        self._vllm = _import_vllm()
        engine = self.options.model_dump(exclude={"tokenizer"} if self.options.tokenizer is None else set())
        if engine["max_model_len"] is None:
            del engine["max_model_len"]
        self.llm = self._vllm.LLM(model=resolve_for_transformers(model), **engine)
        self.tokenizer = self.llm.get_tokenizer()

    # --- tokenizer-side helpers ---
    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """The model's chat template around one user turn, assistant turn opened."""
        return render_chat(self.tokenizer, self.model, user, system)

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []

    def _encode_prompt(self, prompt: str) -> list[int]:
        bos = getattr(self.tokenizer, "bos_token", None)
        # Chat-rendered prompts already carry their special tokens; plain prompts get the tokenizer's defaults.
        ids = list(self.tokenizer.encode(prompt, add_special_tokens=not (bos and prompt.startswith(bos))))
        if not ids:
            raise BackendError("cannot generate from an empty prompt")
        return ids

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _sampling(self, params: SamplingParams, *, n: int, max_tokens: int, seed: int | None) -> Any:
        if params.temperature < 0 or not 0 < params.top_p <= 1 or params.repetition_penalty <= 0:
            raise BackendError(f"invalid sampling parameters: {params}")
        fields: dict[str, Any] = {
            "n": n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "repetition_penalty": params.repetition_penalty,
            "max_tokens": max_tokens,
            "stop": list(params.stop),
            "seed": seed,
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
        }
        if params.top_k > 0:  # otherwise vLLM's default, which is "off" in every version (-1 before, 0 now)
            fields["top_k"] = params.top_k
        return self._vllm.SamplingParams(**fields)

    # --- sequence interface ---
    def open(self, prompts: list[str], n: int = 1, seeds: list[int | None] | None = None) -> list[Sequence]:
        """Tokenise each prompt once; its ``n`` samples start from the same ids (and the same cached blocks)."""
        check_open_args(prompts, n, seeds)
        seqs = []
        for i, prompt in enumerate(prompts):
            ids = self._encode_prompt(prompt)
            for j in range(n):
                seed = None if seeds is None else seeds[i * n + j]
                seqs.append(
                    Sequence(prompt=prompt, prompt_index=i, sample=j, seed=seed, state=_Ids(list(ids)))
                )
        return seqs

    def continue_(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        """Continue all sequences in one ``LLM.generate`` call, each with its own seed and token cap."""
        if params.n != 1:
            raise BackendError("continue_ takes n=1; open() makes the n sequences per prompt")
        outs: list[Completion | None] = [None] * len(seqs)
        live, requests, sampling = [], [], []
        for i, seq in enumerate(seqs):
            limit = params.max_tokens if seq.max_tokens is None else min(params.max_tokens, seq.max_tokens)
            if limit <= 0:  # budget spent: vLLM rejects max_tokens 0
                outs[i] = Completion(text="", tokens=0, finish_reason="length")
                continue
            live.append(i)
            requests.append({"prompt_token_ids": list(self._state(seq).ids)})
            sampling.append(self._sampling(params, n=1, max_tokens=limit, seed=seq.seed))
        if requests:
            results = self.llm.generate(requests, sampling, use_tqdm=False)
            for i, result in zip(live, results, strict=True):
                outs[i] = self._absorb(seqs[i], result, params.stop)
        return [o for o in outs if o is not None]

    def append(self, seqs: list[Sequence], texts: list[str]) -> None:
        """Append forced text; its tokens join the id list, to be prefilled (only they) by the next call."""
        for seq, text in zip(seqs, texts, strict=True):
            seq.text += text
            self._state(seq).ids.extend(self._encode(text))

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """``n`` samples per prompt through vLLM's own ``n`` (the prompt is prefilled once per request)."""
        requests = [{"prompt_token_ids": self._encode_prompt(p)} for p in prompts]
        sampling = self._sampling(params, n=params.n, max_tokens=params.max_tokens, seed=params.seed)
        results = self.llm.generate(requests, sampling, use_tqdm=False)
        grouped = []
        for request, result in zip(requests, results, strict=True):
            self._account_prompt(len(request["prompt_token_ids"]), result)
            grouped.append(
                [
                    self._completion(out, params.stop, len(request["prompt_token_ids"]))
                    for out in result.outputs
                ]
            )
        return grouped

    # --- results ---
    def _state(self, seq: Sequence) -> _Ids:
        if not isinstance(seq.state, _Ids):
            raise BackendError("sequence is closed or was not opened by this vllm backend")
        return seq.state

    def _account_prompt(self, prompt_len: int, result: Any) -> None:
        cached = getattr(result, "num_cached_tokens", None) or 0
        self.stats.prefilled_tokens += prompt_len - min(int(cached), prompt_len)
        self.stats.calls += 1

    def _completion(self, out: Any, stops: list[str], prompt_len: int) -> Completion:
        self.stats.generated_tokens += len(out.token_ids)
        stop = out.stop_reason if isinstance(out.stop_reason, str) and out.stop_reason in stops else None
        finish = "length" if out.finish_reason == "length" else "stop"
        return Completion(text=out.text, tokens=len(out.token_ids), finish_reason=finish, stop=stop,
                          prompt_tokens=prompt_len)  # fmt: skip

    def _absorb(self, seq: Sequence, result: Any, stops: list[str]) -> Completion:
        state = self._state(seq)
        self._account_prompt(len(state.ids), result)
        out = result.outputs[0]
        completion = self._completion(out, stops, len(state.ids))
        state.ids.extend(self._ids_for_text(list(out.token_ids), out.text))
        seq.text += out.text
        return completion

    def _ids_for_text(self, token_ids: list[int], text: str) -> list[int]:
        """Ids that spell ``text``: the generated ids minus a trimmed stop string or end-of-sequence token.

        vLLM's ids include the tokens of a matched stop string and the EOS token while its text leaves them out;
        keeping them would feed the model a marker the text no longer shows (budget forcing cuts exactly those).
        """
        for keep in range(len(token_ids), max(-1, len(token_ids) - TRIM_SEARCH_TOKENS - 1), -1):
            decoded = self._decode(token_ids[:keep])
            if text.startswith(decoded):
                return token_ids[:keep] + self._encode(text[len(decoded) :])
        return self._encode(text)  # text and ids disagree beyond a stop string: trust the text
