"""Decoding pieces shared by the local backends (transformers, llama.cpp): token sampling, incremental
detokenisation, and stop-string scanning with the token rollback a stop string needs.

Sampling follows the usual order (repetition penalty on prompt + generated tokens, temperature, top-k, top-p) with one
``torch.Generator`` per sequence, so each sample's seed alone decides its draws whatever batch it runs in.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fs1.backends.base import BackendError, SamplingParams

# Tokens of context decoded before the new ones, so that tokenizers which drop a leading space at the start of a
# decode (SentencePiece) still give the right text for the first new token.
_DETOK_CONTEXT = 6
_REPLACEMENT_CHAR = "\ufffd"
# /proc/cpuinfo flags of native bf16 arithmetic; without them bf16 matmuls are emulated (torch: ~100x slower than fp32).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo is missing, e.g. macOS)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def check_params(params: SamplingParams) -> None:
    """Reject what the local backends cannot honour (never ignore a field)."""
    if params.n != 1:
        raise BackendError("continue_ takes n=1; open() makes the n sequences per prompt")
    if params.temperature < 0:
        raise BackendError(f"temperature must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise BackendError(f"top_p must be in (0, 1], got {params.top_p}")
    if params.repetition_penalty <= 0:
        raise BackendError(f"repetition_penalty must be > 0, got {params.repetition_penalty}")
    if params.max_tokens < 0:
        raise BackendError(f"max_tokens must be >= 0, got {params.max_tokens}")


def make_generator(seed: int | None) -> torch.Generator:
    """A per-sequence generator; an unseeded sequence draws its seed from the OS."""
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return gen


def sample_rows(
    logits: np.ndarray,
    params: SamplingParams,
    seen: np.ndarray | None,
    generators: Sequence[torch.Generator],
) -> list[int]:
    """The next token of each row of ``logits`` (float32 [B, V], modified in place); ``seen`` [B, V] marks tokens
    already in each sequence (for the repetition penalty).

    One vectorised pass for the whole batch, in numpy on one thread: torch's multi-threaded element-wise kernels
    cost more in thread hand-offs than in arithmetic at this size (much more on a shared machine). Top-k uses a
    partial partition instead of a sort of the vocabulary. Each row draws one uniform from its own generator.
    """
    if params.repetition_penalty != 1.0 and seen is not None:
        penalty = np.float32(params.repetition_penalty)
        picked = logits[seen]
        logits[seen] = np.where(picked > 0, picked / penalty, picked * penalty)
    if params.greedy:
        return logits.argmax(axis=1).tolist()
    width = logits.shape[1]
    k = min(params.top_k, width) if params.top_k and params.top_k > 0 else width
    if k < width:
        index = np.argpartition(logits, width - k, axis=1)[:, width - k :]
        values = np.take_along_axis(logits, index, axis=1)
    else:
        index = np.broadcast_to(np.arange(width), logits.shape)
        values = logits
    order = np.argsort(-values, axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    values = np.take_along_axis(values, order, axis=1) / np.float32(params.temperature)
    probs = np.exp(values - values[:, :1])
    probs /= probs.sum(axis=1, keepdims=True)
    if params.top_p < 1.0:
        before = np.cumsum(probs, axis=1) - probs
        probs[before > params.top_p] = 0.0  # keeps at least the first (before == 0)
        probs /= probs.sum(axis=1, keepdims=True)
    draws = torch.cat([torch.rand(1, generator=gen) for gen in generators]).numpy()
    cdf = np.cumsum(probs, axis=1)
    picks = np.minimum((cdf < (draws * cdf[:, -1])[:, None]).sum(axis=1), k - 1)
    return np.take_along_axis(index, picks[:, None], axis=1)[:, 0].tolist()


class TokenizerDetok:
    """Incremental detokeniser over a transformers tokenizer (decodes a small window, waits out partial UTF-8)."""

    def __init__(self, decode: Callable[[list[int]], str], context: Sequence[int]) -> None:
        self._decode = decode
        self._ids = list(context[-_DETOK_CONTEXT:])
        self._prefix = 0
        self._read = len(self._ids)
        self._prefix_text = self._decode(self._ids[self._prefix : self._read])

    def push(self, token: int) -> str:
        self._ids.append(token)
        return self._delta(final=False)

    def flush(self) -> str:
        return self._delta(final=True) if self._read < len(self._ids) else ""

    def _delta(self, *, final: bool) -> str:
        new_text = self._decode(self._ids[self._prefix :])
        if len(new_text) <= len(self._prefix_text) or (new_text.endswith(_REPLACEMENT_CHAR) and not final):
            return ""
        delta = new_text[len(self._prefix_text) :]
        # Slide the window: keep only a few tokens of context before the read point.
        self._prefix = max(self._prefix, len(self._ids) - _DETOK_CONTEXT)
        self._read = len(self._ids)
        self._ids = self._ids[self._prefix :]
        self._read -= self._prefix
        self._prefix = 0
        self._prefix_text = self._decode(self._ids[: self._read])
        return delta


class ByteDetok:
    """Incremental detokeniser over per-token byte pieces (llama.cpp), with an incremental UTF-8 decoder."""

    def __init__(self, piece: Callable[[int], bytes]) -> None:
        self._piece = piece
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token: int) -> str:
        return self._utf8.decode(self._piece(token))

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


@dataclass
class StopScanner:
    """Follows one sequence through a ``continue_`` call: text so far, stop strings, end-of-sequence, token cap."""

    detok: TokenizerDetok | ByteDetok
    stops: list[str]
    limit: int
    eos_ids: frozenset[int]
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    ends: list[int] = field(default_factory=list)  # len(text) after each token
    finish: str | None = None
    stop: str | None = None
    cut: int | None = None  # where the stop string starts in ``text``

    def __post_init__(self) -> None:
        self._longest = max((len(s) for s in self.stops), default=0)
        if self.limit <= 0:
            self.finish = "length"

    @property
    def done(self) -> bool:
        return self.finish is not None

    def push(self, token: int) -> None:
        """Take one sampled token; sets ``finish`` when the sequence ends."""
        if token in self.eos_ids:
            self._end_text()
            self.finish = "stop"
            return
        self.tokens.append(token)
        old = len(self.text)
        self.text += self.detok.push(token)
        self.ends.append(len(self.text))
        if self._scan(old):
            return
        if len(self.tokens) >= self.limit:
            self._end_text()
            self.finish = "length"

    def _end_text(self) -> None:
        old = len(self.text)
        tail = self.detok.flush()
        if tail:
            self.text += tail
            if self.ends:
                self.ends[-1] = len(self.text)
            self._scan(old)

    def _scan(self, old: int) -> bool:
        if not self._longest or self.cut is not None:
            return False
        start = max(0, old - self._longest + 1)
        hits = [(self.text.find(s, start), s) for s in self.stops]
        hits = [(pos, s) for pos, s in hits if pos >= 0]
        if not hits:
            return False
        self.cut, self.stop = min(hits)
        self.finish = "stop"
        return True

    def result(self) -> tuple[list[int], str, str]:
        """``(kept_tokens, fragment, text)``: tokens to keep, text to re-encode after them, and the visible text.

        A stop string can begin inside a token's text; that token is dropped and the text before the stop within it
        is returned as ``fragment`` for the backend to re-encode.
        """
        if self.cut is None:
            return list(self.tokens), "", self.text
        text = self.text[: self.cut]
        for j, end in enumerate(self.ends):
            if end >= self.cut:
                if end == self.cut:
                    return self.tokens[: j + 1], "", text
                start = self.ends[j - 1] if j else 0
                return self.tokens[:j], text[start:], text
        return list(self.tokens), "", text
