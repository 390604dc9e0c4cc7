"""The llama.cpp backend: GGUF models through llama-cpp-python's low-level API, many sequences in one batch.

llama-cpp-python's high-level ``Llama`` decodes one sequence at a time; here one context holds ``slots`` sequences
(``n_seq_max``, each its own KV stream) and every decode step sends one token per live sequence in a single
``llama_batch``. A sequence keeps its KV cells between calls, so forced text costs only its own tokens. When more
sequences are open than there are slots, idle ones are parked as saved sequence state (``llama_state_seq_get_data``)
and restored on demand; a prompt's n samples and forks start from one saved copy of the shared prefix.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
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
)
from fs1.backends.decoding import (
    NATIVE_BF16_FLAGS,
    ByteDetok,
    StopScanner,
    check_params,
    cpu_flags,
    make_generator,
    sample_rows,
)
from fs1.backends.embedded import cache_root, is_embedded, resolve_for_llamacpp
from fs1.backends.options import WEIGHT_TYPES, LlamaCppOptions

_PIECE_BYTES = 256


def auto_weights(model: str, flags: frozenset[str]) -> tuple[str, str]:
    """The weights ``auto`` uses and why: the embedded model in a batch-friendly type; any other GGUF as it is."""
    if not is_embedded(model):
        return "as-is", "a user GGUF is used as it is"
    native = sorted(NATIVE_BF16_FLAGS & flags)
    if native:
        return "bf16", f"shipped Q4_1 has no batched kernel; CPU has native BF16 ({', '.join(native)})"
    return "f16", "shipped Q4_1 has no batched kernel; CPU lacks native BF16, f16 is converted in the matmul"


def converted_gguf(ll, source: str, kind: str) -> str:  # noqa: ANN001
    """``source`` rewritten with ``kind`` tensors (``WEIGHT_TYPES``), once, cached beside fs1's other models."""
    target = cache_root() / "models" / f"{Path(source).stem}.{kind}.gguf"
    if target.exists():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    params = ll.llama_model_quantize_default_params()
    params.ftype = getattr(ll, f"LLAMA_FTYPE_{WEIGHT_TYPES[kind]}")
    params.allow_requantize = True
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if ll.llama_model_quantize(str(source).encode(), str(tmp).encode(), params) != 0:
            raise BackendError(f"llama.cpp could not convert {source!r} to {kind}")
        os.replace(tmp, target)  # atomic: a killed conversion leaves no half-written model behind
    finally:
        tmp.unlink(missing_ok=True)
    return str(target)


@dataclass
class _SeqState:
    ids: list[int]
    n_past: int  # ids[:n_past] are in the KV cache (resident) or in ``parked``
    generator: torch.Generator
    slot: int | None = None
    parked: bytes | None = None
    fresh_last: bool = False
    last_used: int = 0


def _resident(state: _SeqState) -> int:
    """The slot of a sequence made resident (``_make_resident``); a parked one has none."""
    if state.slot is None:
        raise RuntimeError("sequence is not resident in a llama.cpp slot")
    return state.slot


def _import_llama_cpp():  # noqa: ANN202
    import llama_cpp

    # Keep llama.cpp's own progress chatter off the console; errors still print.
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    return llama_cpp


class LlamaCppBackend(Backend):
    """Local generation with llama.cpp; ``model`` is a GGUF path or ``smollm2-135m``."""

    name = "llamacpp"
    supports_sequence_limits = True

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model)
        self.options = opts = parse_options(LlamaCppOptions, options, self.name)
        threads, slots, weights = opts.threads, opts.slots, opts.weights
        ctx_per_sequence, batch_tokens = opts.ctx_per_sequence, opts.batch_tokens
        self._ll = ll = _import_llama_cpp()
        path = resolve_for_llamacpp(model)
        if not os.path.isfile(path):
            raise BackendError(f"llamacpp backend needs a GGUF file; {path!r} does not exist")
        kind, why = auto_weights(model, cpu_flags()) if weights == "auto" else (weights, "asked for")
        if kind != "as-is":
            path = converted_gguf(ll, path, kind)
        self.weights_note = f"llamacpp: {kind} weights ({weights}: {why})"
        if weights == "auto":
            print(self.weights_note, file=sys.stderr)  # one line on stderr, as transformers' dtype note
        ll.llama_backend_init()
        self._model = ll.llama_model_load_from_file(path.encode(), ll.llama_model_default_params())
        if not self._model:
            raise BackendError(f"llama.cpp could not load {path!r}")
        self.weights = self._model_desc()
        self._vocab = ll.llama_model_get_vocab(self._model)
        self.n_vocab = ll.llama_vocab_n_tokens(self._vocab)
        threads = threads or len(os.sched_getaffinity(0))
        params = ll.llama_context_default_params()
        params.n_seq_max, params.n_ctx = slots, slots * ctx_per_sequence
        params.n_batch, params.n_ubatch = batch_tokens, min(512, batch_tokens)
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = False  # one KV stream per slot: attention only over a sequence's own cells
        params.no_perf = True
        self._ctx = ll.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise BackendError(f"llama.cpp could not create a context ({slots} x {ctx_per_sequence} tokens)")
        self._mem = ll.llama_get_memory(self._ctx)
        self.slots, self.ctx_per_sequence, self.batch_tokens = slots, ctx_per_sequence, batch_tokens
        self._owners: list[_SeqState | None] = [None] * slots
        self._batch = ll.llama_batch_init(batch_tokens, 0, 1)
        self._clock = 0
        self._piece_buf = ctypes.create_string_buffer(_PIECE_BYTES)
        self._template = self._chat_template()
        self.eos_ids = frozenset(t for t in range(self.n_vocab) if ll.llama_vocab_is_eog(self._vocab, t))

    def shutdown(self) -> None:
        """Free the llama.cpp batch, context and model (also done when the backend is garbage-collected)."""
        ll = getattr(self, "_ll", None)
        for attr, free in (
            ("_batch", "llama_batch_free"),
            ("_ctx", "llama_free"),
            ("_model", "llama_model_free"),
        ):
            handle = getattr(self, attr, None)
            if ll is not None and handle is not None and handle is not False:
                getattr(ll, free)(handle)
            setattr(self, attr, None)

    def __del__(self, _suppress: Any = contextlib.suppress) -> None:
        # At interpreter shutdown the library, and this module's globals (contextlib), may already be gone.
        with _suppress(TypeError, AttributeError):
            self.shutdown()

    def _model_desc(self) -> str:
        """llama.cpp's description of the loaded model, without its architecture and size guess: its tensor type, e.g. "Q4_1"."""
        buf = ctypes.create_string_buffer(128)
        n = self._ll.llama_model_desc(self._model, buf, len(buf))
        return " ".join(buf.raw[: max(n, 0)].decode("utf-8", "replace").split()[2:])

    # --- tokenizer-side helpers ---
    def _chat_template(self):  # noqa: ANN202
        raw = self._ll.llama_model_chat_template(self._model, None)
        if not raw:
            return None
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(raw.decode("utf-8"))

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        if self._template is None:
            raise BackendError(f"model {self.model!r} has no chat template in its GGUF")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        bos = self._piece(self._ll.llama_vocab_bos(self._vocab)).decode("utf-8", "replace")
        eos = self._piece(self._ll.llama_vocab_eos(self._vocab)).decode("utf-8", "replace")
        return self._template.render(
            messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos
        )

    def _tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        if not text:
            return []
        data = text.encode("utf-8")
        size = len(data) + 8
        buf = (self._ll.llama_token * size)()
        n = self._ll.llama_tokenize(self._vocab, data, len(data), buf, size, add_special, True)
        if n < 0:  # pragma: no cover - more tokens than bytes + 8 cannot happen for byte-level vocabularies
            raise BackendError("tokenisation overflow")
        return list(buf[:n])

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    def _piece(self, token: int) -> bytes:
        n = self._ll.llama_token_to_piece(self._vocab, token, self._piece_buf, _PIECE_BYTES, 0, True)
        return self._piece_buf.raw[:n]

    def _encode_prompt(self, prompt: str) -> list[int]:
        bos = self._piece(self._ll.llama_vocab_bos(self._vocab)).decode("utf-8", "replace")
        add = bool(self._ll.llama_vocab_get_add_bos(self._vocab)) and not prompt.startswith(bos)
        ids = self._tokenize(prompt, add_special=add)
        if not ids:
            raise BackendError("cannot generate from an empty prompt")
        if len(ids) >= self.ctx_per_sequence:
            raise BackendError(
                f"prompt of {len(ids)} tokens exceeds the {self.ctx_per_sequence}-token context"
            )
        return ids

    # --- slots and parking ---
    def _save(self, slot: int) -> bytes:
        size = self._ll.llama_state_seq_get_size(self._ctx, slot)
        buf = (ctypes.c_uint8 * size)()
        written = self._ll.llama_state_seq_get_data(self._ctx, buf, size, slot)
        return bytes(buf[:written])

    def _restore(self, data: bytes, slot: int) -> None:
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if self._ll.llama_state_seq_set_data(self._ctx, buf, len(data), slot) == 0:
            raise BackendError("llama.cpp could not restore a parked sequence")

    def _release(self, slot: int) -> None:
        self._ll.llama_memory_seq_rm(self._mem, slot, -1, -1)
        self._owners[slot] = None

    def _park(self, st: _SeqState) -> None:
        if st.slot is None:
            return
        st.parked = self._save(st.slot) if st.n_past else None
        self._release(st.slot)
        st.slot = None

    def _make_resident(self, states: list[_SeqState]) -> None:
        """Give every state a slot (they must fit), parking least recently used other sequences."""
        self._clock += 1
        wanted = {id(st) for st in states}
        for st in states:
            st.last_used = self._clock
            if st.slot is not None:
                continue
            free = [i for i, owner in enumerate(self._owners) if owner is None]
            if not free:
                victims = [o for o in self._owners if o is not None and id(o) not in wanted]
                victim = min(victims, key=lambda o: o.last_used)
                slot = _resident(victim)
                self._park(victim)
            else:
                slot = free[0]
            if st.parked is not None:
                self._restore(st.parked, slot)
                st.parked = None
            st.slot = slot
            self._owners[slot] = st

    # --- batched decoding ---
    def _feed(
        self,
        rows: list[tuple[int, int, list[int]]],
        out: np.ndarray | None = None,
        out_rows: list[int] | None = None,
    ) -> None:
        """Feed ``(slot, first_position, tokens)`` rows in as few decode calls as fit; row r's last logits are
        copied into ``out[out_rows[r]]`` (``out[r]`` without ``out_rows``) when ``out`` is given."""
        ll, batch = self._ll, self._batch
        queue = [(r, slot, pos, toks) for r, (slot, pos, toks) in enumerate(rows) if toks]
        while queue:
            count, finished, rest = 0, [], []
            for r, slot, pos, toks in queue:
                room = self.batch_tokens - count
                if room <= 0:
                    rest.append((r, slot, pos, toks))
                    continue
                take, left = toks[:room], toks[room:]
                for j, tok in enumerate(take):
                    batch.token[count] = tok
                    batch.pos[count] = pos + j
                    batch.n_seq_id[count] = 1
                    batch.seq_id[count][0] = slot
                    batch.logits[count] = not left and j == len(take) - 1
                    count += 1
                if left:
                    rest.append((r, slot, pos + len(take), left))
                else:
                    finished.append((r, count - 1))
            batch.n_tokens = count
            status = ll.llama_decode(self._ctx, batch)
            if status != 0:
                raise BackendError(
                    f"llama_decode failed (status {status}); is the {self.ctx_per_sequence}-token context full?"
                )
            # Logits of a decode call are only valid until the next one: read them now.
            for r, index in finished:
                if out is None:
                    break
                ptr = ll.llama_get_logits_ith(self._ctx, index)
                out[r if out_rows is None else out_rows[r]] = np.ctypeslib.as_array(
                    ptr, shape=(self.n_vocab,)
                )
            queue = rest

    # --- sequence-level interface ---
    def open(self, prompts: list[str], n: int = 1, seeds: list[int | None] | None = None) -> list[Sequence]:
        check_open_args(prompts, n, seeds)
        distinct = list(dict.fromkeys(prompts))
        encoded = {p: self._encode_prompt(p) for p in distinct}
        # Each distinct prompt is prefilled once (all but its last token) and saved; its samples restore that copy.
        prefix: dict[str, bytes | None] = {}
        for start in range(0, len(distinct), self.slots):
            chunk = distinct[start : start + self.slots]
            holders = [_SeqState(encoded[p], 0, make_generator(0)) for p in chunk]
            self._make_resident(holders)
            self._feed([(_resident(h), 0, h.ids[:-1]) for h in holders])
            for prompt, holder in zip(chunk, holders, strict=True):
                self.stats.prefilled_tokens += len(holder.ids) - 1
                prefix[prompt] = self._save(_resident(holder)) if len(holder.ids) > 1 else None
                self._release(_resident(holder))
        seqs = []
        for index, prompt in enumerate(prompts):
            for sample in range(n):
                seed = seeds[index * n + sample] if seeds is not None else None
                ids = encoded[prompt]
                state = _SeqState(list(ids), len(ids) - 1, make_generator(seed), parked=prefix[prompt])
                seqs.append(Sequence(prompt, index, sample, seed, state=state))
        return seqs

    @staticmethod
    def _state(seq: Sequence) -> _SeqState:
        if not isinstance(seq.state, _SeqState):
            raise BackendError("sequence is closed or was opened by another backend")
        return seq.state

    def append(self, seqs: list[Sequence], texts: list[str]) -> None:
        for seq, text in zip(seqs, texts, strict=True):
            self._state(seq).ids.extend(self._tokenize(text))
            seq.text += text

    def fork(self, seqs: list[Sequence]) -> list[Sequence]:
        out = []
        for seq in seqs:
            st = self._state(seq)
            generator = torch.Generator()
            generator.set_state(st.generator.get_state())
            saved = self._save(st.slot) if st.slot is not None and st.n_past else st.parked
            state = _SeqState(list(st.ids), st.n_past, generator, parked=saved, fresh_last=st.fresh_last)
            out.append(
                Sequence(seq.prompt, seq.prompt_index, seq.sample, seq.seed, seq.text, state, seq.max_tokens)
            )
        return out

    def close(self, seqs: list[Sequence]) -> None:
        for seq in seqs:
            st = seq.state
            if isinstance(st, _SeqState) and st.slot is not None:
                self._release(st.slot)
            seq.state = None

    def continue_(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        check_params(params)
        out: list[Completion] = []
        for start in range(0, len(seqs), self.slots):
            out.extend(self._continue_chunk(seqs[start : start + self.slots], params))
        self.stats.calls += 1
        return out

    def _continue_chunk(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        states = [self._state(s) for s in seqs]
        self._make_resident(states)
        limits = [
            params.max_tokens if s.max_tokens is None else min(s.max_tokens, params.max_tokens) for s in seqs
        ]
        scanners = [
            StopScanner(ByteDetok(self._piece), list(params.stop), limit, self.eos_ids) for limit in limits
        ]
        pending = [st.ids[st.n_past :] for st in states]
        self.stats.prefilled_tokens += sum(
            len(p) - int(st.fresh_last) for p, st in zip(pending, states, strict=True)
        )
        fed = [st.n_past + len(p) for st, p in zip(states, pending, strict=True)]
        logits = np.empty(
            (len(seqs), self.n_vocab), dtype=np.float32
        )  # row i: sequence i's next-token logits
        self._feed([(_resident(st), st.n_past, p) for st, p in zip(states, pending, strict=True)], logits)
        seen = self._seen(states) if params.repetition_penalty != 1.0 else None
        live = [i for i, sc in enumerate(scanners) if not sc.done]
        while live:
            # While every sequence is live (the common case) the rows are used in place: no gather, no copy.
            everyone = len(live) == len(seqs)
            rows = logits if everyone else logits[live]
            seen_rows = seen if seen is None or everyone else seen[live]
            tokens = sample_rows(rows, params, seen_rows, [states[i].generator for i in live])
            for i, tok in zip(live, tokens, strict=True):
                scanners[i].push(tok)
                if seen is not None:
                    seen[i, tok] = True
            self.stats.generated_tokens += len(live)
            feed = [(i, tok) for i, tok in zip(live, tokens, strict=True) if not scanners[i].done]
            live = [i for i, _ in feed]
            if not feed:
                break
            self._feed([(_resident(states[i]), fed[i], [tok]) for i, tok in feed], logits, live)
            for i in live:
                fed[i] += 1
        return [
            self._finish(seq, st, sc, n) for seq, st, sc, n in zip(seqs, states, scanners, fed, strict=True)
        ]

    def _seen(self, states: list[_SeqState]) -> np.ndarray:
        seen = np.zeros((len(states), self.n_vocab), dtype=bool)
        for row, st in enumerate(states):
            seen[row, st.ids] = True
        return seen

    def _finish(self, seq: Sequence, st: _SeqState, scanner: StopScanner, fed: int) -> Completion:
        """Keep the tokens behind the returned text (after stop-string rollback); drop KV cells beyond them."""
        kept, fragment, text = scanner.result()
        extra = self._tokenize(fragment)
        st.ids.extend(kept)
        st.ids.extend(extra)
        st.n_past = min(fed, len(st.ids) - 1)
        if st.n_past < fed:
            self._ll.llama_memory_seq_rm(self._mem, st.slot, st.n_past, -1)
        st.fresh_last = bool(kept) and not fragment and kept == scanner.tokens and st.n_past == fed
        seq.text += text
        return Completion(
            text=text,
            tokens=len(kept) + len(extra),
            finish_reason=scanner.finish or "length",
            stop=scanner.stop,
        )

    def describe(self) -> dict[str, object]:
        """Facts for logs and benchmark reports."""
        return {
            "backend": self.name,
            "model": self.model,
            "weights": self.weights,
            "weights_note": self.weights_note,
            "slots": self.slots,
            "ctx_per_sequence": self.ctx_per_sequence,
        }
