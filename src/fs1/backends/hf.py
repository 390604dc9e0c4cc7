"""The transformers backend (default; runs on CPU): batched decoding over per-sequence KV caches.

Each open sequence keeps its token ids and the KV cache of all but its last token. ``open`` prefills each distinct
prompt once and lets its ``n`` samples share that cache (expanded into batch rows when decoding); ``continue_``
feeds only the tokens not yet processed (forced text, the last sampled token) and decodes every sequence of the call
in one batch with explicit masks and position ids (``hf_kv.KVBatch``). Nothing already processed is prefilled again.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fs1.backends.base import (
    Backend,
    BackendError,
    Completion,
    SamplingParams,
    Sequence,
    check_open_args,
    parse_options,
    render_chat,
)
from fs1.backends.decoding import (
    NATIVE_BF16_FLAGS,
    StopScanner,
    TokenizerDetok,
    check_params,
    cpu_flags,
    make_generator,
    sample_rows,
)
from fs1.backends.embedded import resolve_for_transformers
from fs1.backends.hf_kv import KVBatch
from fs1.backends.options import TransformersOptions

# Tokens prefilled in one forward at most when opening prompts (bounds the attention mask's memory).
PREFILL_TOKENS_PER_FORWARD = 8192
# Decode columns reserved up front; the buffer grows in chunks beyond this.
INITIAL_DECODE_COLUMNS = 256


@dataclass
class _SeqState:
    ids: list[int]  # prompt + text tokens
    kv: torch.Tensor | None  # [layers, 2, kv_heads, cached, head_dim] for ids[:cached]
    cached: int
    generator: torch.Generator
    fresh_last: bool = False  # ids[-1] was sampled and never fed (feeding it is decoding, not prefill)


def auto_dtype(device: str, flags: frozenset[str], cuda_bf16: bool = False) -> tuple[torch.dtype, str]:
    """The dtype ``auto`` picks and why: bf16 only where the hardware computes it natively, else fp32."""
    if device.startswith("cuda"):
        if cuda_bf16:
            return torch.bfloat16, "CUDA device supports bf16"
        return torch.float32, "CUDA device without bf16 support"
    native = sorted(NATIVE_BF16_FLAGS & flags)
    if native:
        return torch.bfloat16, f"CPU has native BF16 ({', '.join(native)})"
    return torch.float32, "CPU lacks native BF16 (no avx512_bf16/amx_bf16), where bf16 would be emulated"


def _pick_dtype(dtype: str, device: str) -> tuple[torch.dtype, str]:
    """The torch dtype for ``dtype`` on ``device`` and a short reason (for the one-line note)."""
    if dtype == "auto":
        cuda_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        return auto_dtype(device, frozenset() if device.startswith("cuda") else cpu_flags(), cuda_bf16)
    chosen = getattr(torch, dtype, None)
    if not isinstance(chosen, torch.dtype):
        raise BackendError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return chosen, "asked for"


class TransformersBackend(Backend):
    """Local generation with transformers; ``model`` is a checkpoint dir, a hub id, or ``smollm2-135m``."""

    name = "transformers"
    supports_sequence_limits = True

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.options = opts = parse_options(TransformersOptions, options, self.name)
        if opts.threads:
            torch.set_num_threads(opts.threads)
        self.device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype, why = _pick_dtype(opts.dtype, self.device)
        self.dtype_note = f"transformers: {str(dtype).removeprefix('torch.')} weights ({opts.dtype}: {why})"
        if opts.dtype == "auto":
            print(self.dtype_note, file=sys.stderr)  # one line on stderr: outputs stay byte-identical
        path = resolve_for_transformers(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.lm = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
        except (OSError, ValueError) as exc:  # ValueError: a folder or file that is not a checkpoint
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"cannot load model {model!r} with transformers: {reason}") from exc
        self.lm.to(self.device).eval()
        self.max_batch_rows = opts.max_batch_rows
        cfg = self.lm.config.get_text_config(decoder=True)
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        self._kv_shape = (cfg.num_hidden_layers, kv_heads, head_dim)
        self._dtype = next(self.lm.parameters()).dtype
        # transformers renamed ``past_key_values`` to ``cache`` during 5.x; accept both.
        self._cache_kwarg = (
            "cache" if "cache" in inspect.signature(self.lm.forward).parameters else "past_key_values"
        )
        self.eos_ids = frozenset(self._eos_ids())
        pad = self.tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else next(iter(self.eos_ids), 0)

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for value in (getattr(self.lm.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif value:
                ids.update(int(v) for v in value)
        return ids

    # --- tokenizer-side helpers ---
    def chat_prompt(self, user: str, system: str | None = None) -> str:
        return render_chat(self.tokenizer, self.model, user, system)

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False) if text else []

    def _encode_prompt(self, prompt: str) -> list[int]:
        bos = self.tokenizer.bos_token
        # Chat-rendered prompts already carry their special tokens; plain prompts get the tokenizer's defaults.
        add = not (bos and prompt.startswith(bos))
        ids = self.tokenizer.encode(prompt, add_special_tokens=add)
        if not ids:
            raise BackendError("cannot generate from an empty prompt")
        return ids

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    # --- model calls ---
    def _forward(
        self, batch: KVBatch, ids: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        inputs = {
            "input_ids": ids.to(self.device),
            "position_ids": pos.to(self.device),
            "attention_mask": mask,
        }
        inputs[self._cache_kwarg] = batch.cache
        with torch.inference_mode():
            out = self.lm(**inputs, use_cache=True, logits_to_keep=1)
        batch.advance(ids.shape[1])
        # Sampling runs on the CPU with per-sequence generators; one row of logits per sequence is cheap to move.
        return out.logits[:, -1].float().cpu()

    def _new_batch(self, caches: list[torch.Tensor | None], extra: int) -> KVBatch:
        return KVBatch(self._kv_shape, self._dtype, torch.device(self.device), caches, extra)

    def _prefill(self, token_lists: list[list[int]]) -> list[torch.Tensor | None]:
        """KV caches of the given token lists, batched within a token budget per forward."""
        out: list[torch.Tensor | None] = [None] * len(token_lists)
        order = [
            i for i in sorted(range(len(token_lists)), key=lambda i: len(token_lists[i])) if token_lists[i]
        ]
        start = 0
        while start < len(order):
            end = start + 1
            longest = len(token_lists[order[start]])
            while end < len(order):
                longest = max(longest, len(token_lists[order[end]]))
                if (
                    longest * (end + 1 - start) > PREFILL_TOKENS_PER_FORWARD
                    or end - start >= self.max_batch_rows
                ):
                    break
                end += 1
            chunk = order[start:end]
            batch = self._new_batch([None] * len(chunk), max(len(token_lists[i]) for i in chunk))
            ids, pos, mask = batch.block_inputs([token_lists[i] for i in chunk], self._pad_id)
            self._forward(batch, ids, pos, mask)
            for row, i in enumerate(chunk):
                out[i] = batch.extract(row, len(token_lists[i]))
                self.stats.prefilled_tokens += len(token_lists[i])
            start = end
        return out

    # --- sequence-level interface ---
    def open(self, prompts: list[str], n: int = 1, seeds: list[int | None] | None = None) -> list[Sequence]:
        check_open_args(prompts, n, seeds)
        distinct = list(dict.fromkeys(prompts))
        encoded = {p: self._encode_prompt(p) for p in distinct}
        # Each distinct prompt is prefilled once (all but its last token); its samples share that cache.
        caches = dict(zip(distinct, self._prefill([encoded[p][:-1] for p in distinct]), strict=True))
        seqs = []
        for index, prompt in enumerate(prompts):
            for sample in range(n):
                seed = seeds[index * n + sample] if seeds is not None else None
                ids = encoded[prompt]
                state = _SeqState(list(ids), caches[prompt], len(ids) - 1, make_generator(seed))
                seqs.append(Sequence(prompt, index, sample, seed, state=state))
        return seqs

    def append(self, seqs: list[Sequence], texts: list[str]) -> None:
        for seq, text in zip(seqs, texts, strict=True):
            self._state(seq).ids.extend(self._encode(text))
            seq.text += text

    def fork(self, seqs: list[Sequence]) -> list[Sequence]:
        out = []
        for seq in seqs:
            st = self._state(seq)
            generator = torch.Generator()
            generator.set_state(st.generator.get_state())
            # The KV tensor is never written in place, so a fork can share it.
            state = _SeqState(list(st.ids), st.kv, st.cached, generator, st.fresh_last)
            out.append(
                Sequence(seq.prompt, seq.prompt_index, seq.sample, seq.seed, seq.text, state, seq.max_tokens)
            )
        return out

    @staticmethod
    def _state(seq: Sequence) -> _SeqState:
        if not isinstance(seq.state, _SeqState):
            raise BackendError("sequence is closed or was opened by another backend")
        return seq.state

    def continue_(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        check_params(params)
        out: list[Completion] = []
        for start in range(0, len(seqs), self.max_batch_rows):
            out.extend(self._continue_chunk(seqs[start : start + self.max_batch_rows], params))
        self.stats.calls += 1
        return out

    def _continue_chunk(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        states = [self._state(s) for s in seqs]
        limits = [
            params.max_tokens if s.max_tokens is None else min(s.max_tokens, params.max_tokens) for s in seqs
        ]
        scanners = [
            StopScanner(TokenizerDetok(self._decode, st.ids), list(params.stop), limit, self.eos_ids)
            for st, limit in zip(states, limits, strict=True)
        ]
        pending = [st.ids[st.cached :] for st in states]
        self.stats.prefilled_tokens += sum(
            len(p) - int(st.fresh_last) for p, st in zip(pending, states, strict=True)
        )
        extra = max(map(len, pending)) + min(max(limits), INITIAL_DECODE_COLUMNS)
        batch = self._new_batch([st.kv for st in states], extra)
        rows = list(range(len(seqs)))  # batch row -> index into seqs
        seen = self._seen(states) if params.repetition_penalty != 1.0 else None
        logits = self._forward(batch, *batch.block_inputs(pending, self._pad_id))
        while True:
            tokens, live = self._sample_live(logits, rows, scanners, states, seen, params)
            if not live:
                break
            if len(live) <= len(rows) // 2:
                # Most rows are done: store their caches and decode only the live ones from here on.
                for row, i in enumerate(rows):
                    if scanners[i].done:
                        self._finish(batch, row, states[i], scanners[i])
                batch.keep_rows(live)
                rows = [rows[row] for row in live]
                tokens = [tokens[row] for row in live]
                seen = seen[live] if seen is not None else None
            active = [not scanners[i].done for i in rows]
            logits = self._forward(batch, *batch.step_inputs(tokens, active))
        for row, i in enumerate(rows):
            self._finish(batch, row, states[i], scanners[i])
        return [self._completion(seq, sc) for seq, sc in zip(seqs, scanners, strict=True)]

    def _sample_live(self, logits, rows, scanners, states, seen, params) -> tuple[list[int], list[int]]:  # noqa: ANN001
        """Sample the next token of every live row; returns each row's token to feed and the rows still live."""
        # Only live rows draw from their generators, so a sequence's draws never depend on its batch-mates.
        live = [row for row, i in enumerate(rows) if not scanners[i].done]
        tokens = [self._pad_id] * len(rows)
        if not live:
            return tokens, live
        generators = [states[rows[row]].generator for row in live]
        # While every row is live (the common case) the logits are sampled in place: no gather.
        everyone = len(live) == len(rows)
        picked = logits.numpy() if everyone else logits[live].numpy()
        drawn = sample_rows(picked, params, seen if seen is None or everyone else seen[live], generators)
        self.stats.generated_tokens += len(drawn)
        for row, token in zip(live, drawn, strict=True):
            tokens[row] = token
            scanners[rows[row]].push(token)
            if seen is not None:
                seen[row, token] = True
        return tokens, [row for row in live if not scanners[rows[row]].done]

    def _seen(self, states: list[_SeqState]) -> np.ndarray:
        seen = np.zeros((len(states), len(self.tokenizer)), dtype=bool)
        for row, st in enumerate(states):
            seen[row, st.ids] = True
        return seen

    def _finish(self, batch: KVBatch, row: int, st: _SeqState, scanner: StopScanner) -> None:
        """Store the row's tokens and KV cache back into its sequence state (after any stop-string rollback)."""
        kept, fragment, _ = scanner.result()
        st.ids.extend(kept)
        st.ids.extend(self._encode(fragment))
        real = batch.real_tokens(row)
        st.cached = min(real, len(st.ids) - 1)
        st.kv = batch.extract(row, st.cached)
        st.fresh_last = bool(kept) and not fragment and kept == scanner.tokens and st.cached == real

    def _completion(self, seq: Sequence, scanner: StopScanner) -> Completion:
        kept, fragment, text = scanner.result()
        seq.text += text
        tokens = len(kept) + (len(self._encode(fragment)) if fragment else 0)
        return Completion(
            text=text, tokens=tokens, finish_reason=scanner.finish or "length", stop=scanner.stop
        )

    def close(self, seqs: list[Sequence]) -> None:
        for seq in seqs:
            seq.state = None

    def describe(self) -> dict[str, Any]:
        """Facts for logs and benchmark reports."""
        return {
            "backend": self.name,
            "model": self.model,
            "device": self.device,
            "dtype": str(self._dtype).removeprefix("torch."),
            "dtype_note": self.dtype_note,
        }
