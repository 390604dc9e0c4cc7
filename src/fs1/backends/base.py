"""The one generation interface every backend implements, batch-first, raw text in and out.

Budget forcing and parallel sampling (``fs1.generate``) are written once above this interface. What they need:
open many sequences (``n`` per prompt, the prompt prefilled once where the backend allows), continue them all by up
to N tokens with stop strings, append forced text, and continue again **without prefilling what was already
processed** (each backend keeps that state behind its ``Sequence`` handles: KV cache, prefix cache, or a server's
prompt cache).
"""

from __future__ import annotations

import copy
import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fs1.config import SAMPLING_FIELDS, Sampling
from fs1.errors import BackendError, validation_message

# Why a continuation ended (``Completion.finish_reason``).
FINISH_STOP = "stop"  # a stop string or end-of-sequence
FINISH_LENGTH = "length"  # the token cap (max_tokens, or the sequence's own budget) was reached
FINISH_CONTEXT = "context"  # the model's context window is full: not a spent budget, nothing more can follow
FINISH_REPETITION = "repetition"  # the engine's repetition detection stopped it (vLLM, when asked to)


def check_conversation_seeds(conversations: list[Any], seeds: list[int | None]) -> None:
    """``chat``'s contract, checked the same way by every backend: one seed per conversation."""
    if len(seeds) != len(conversations):
        raise BackendError(f"expected {len(conversations)} seeds (one per conversation), got {len(seeds)}")


def check_open_args(prompts: list[str], n: int, seeds: list[int | None] | None) -> None:
    """``open``'s contract, checked the same way by every backend: n ≥ 1 and one seed per sequence."""
    if n < 1:
        raise BackendError(f"n must be >= 1, got {n}")
    if seeds is not None and len(seeds) != len(prompts) * n:
        raise BackendError(f"expected {len(prompts) * n} seeds (one per sequence), got {len(seeds)}")


def render_chat(tokenizer: Any, model: str, user: str, system: str | None = None) -> str:
    """One user turn under a Hugging Face tokenizer's chat template, the assistant turn opened."""
    if not getattr(tokenizer, "chat_template", None):
        raise BackendError(f"model {model!r} has no chat template")
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@dataclass
class SamplingParams:
    """One request's sampling, as backends take it: the settings of a resolved ``fs1.config.Sampling`` (stages build
    it with ``of``) plus what belongs to the request (n, stop strings, seed). A backend that cannot honour a field
    raises, never ignores it. The defaults are greedy decoding, for tests and benchmarks that set a field or two."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def of(cls, sampling: Sampling, *, n: int = 1, seed: int | None = None) -> SamplingParams:
        """The request of resolved ``sampling`` (every field set: ``Sampling.resolve`` first)."""
        values = {name: getattr(sampling, name) for name in SAMPLING_FIELDS}
        unset = [name for name, value in values.items() if value is None]
        if unset:
            raise ValueError(f"sampling is not resolved against a preset ({', '.join(unset)} unset)")
        return cls(n=n, seed=seed, **values)


def greedy_once(params: SamplingParams) -> tuple[SamplingParams, int]:
    """Greedy decoding has one outcome per prompt, so ``n > 1`` greedy samples are decoded once and copied ``n``
    times, the same on every backend (vLLM rejects n > 1 at temperature 0; the others would pay n times for one
    text). Returns the params to decode with and the number of copies of each completion."""
    if params.greedy and params.n > 1:
        return dataclasses.replace(params, n=1), params.n
    return params, 1


def copied(grouped: list[list[Completion]], copies: int) -> list[list[Completion]]:
    """Each prompt's completions repeated ``copies`` times (independent objects), for ``greedy_once``."""
    if copies == 1:
        return grouped
    return [[dataclasses.replace(c) for c in group for _ in range(copies)] for group in grouped]


@dataclass
class Completion:
    """What one continuation produced. ``text`` excludes the stop string that ended it (named in ``stop``)."""

    text: str
    tokens: int
    finish_reason: str  # FINISH_STOP | FINISH_LENGTH | FINISH_CONTEXT | FINISH_REPETITION
    stop: str | None = None
    reasoning: str | None = None  # reasoning field of reasoning-model APIs (chat), when present
    prompt_tokens: int | None = None  # tokens the backend prefilled for this call (accounting)


@dataclass
class Sequence:
    """A handle on one sequence being generated: its prompt, everything appended so far, and backend state."""

    prompt: str
    prompt_index: int
    sample: int
    seed: int | None = None
    text: str = ""  # generated and forced text after the prompt
    state: Any = None  # backend-private (token ids, KV cache, ...)
    # Per-sequence cap on new tokens for the next ``continue_`` (the smaller of it and ``params.max_tokens`` applies).
    # Only set on backends whose ``supports_sequence_limits`` is True; ``fs1.generate`` groups sequences otherwise.
    max_tokens: int | None = None


@dataclass
class BackendStats:
    """Counters for benchmarks: tokens prefilled (processed as prompt) and tokens generated."""

    prefilled_tokens: int = 0
    generated_tokens: int = 0
    calls: int = 0


OptionsT = TypeVar("OptionsT")


def parse_options(model: type[OptionsT], options: dict[str, Any], backend: str) -> OptionsT:
    """A backend's options checked against its options model: a bad value is one ``BackendError`` line naming the
    option (``load_backend`` checks them earlier, at experiment load; this covers a backend class built directly)."""
    from pydantic import ValidationError

    try:
        return model(**options)
    except ValidationError as exc:
        raise BackendError(f"backend {backend!r}: {validation_message(exc, prefix='')}") from None


class Backend(ABC):
    """A generation backend. Subclasses implement ``open``, ``continue_`` and the tokenizer helpers."""

    name: str = "base"
    # True when ``continue_`` honours ``Sequence.max_tokens`` (budget forcing then batches sequences whose remaining
    # budgets differ into one call instead of one call per distinct budget).
    supports_sequence_limits: bool = False

    def __init__(self, model: str) -> None:
        self.model = model
        self.stats = BackendStats()

    @classmethod
    def check_sampling(cls, params: SamplingParams) -> None:
        """Refuse ``params`` this backend cannot honour, before it loads anything (``BackendError``): the ranges every
        backend shares here; backends whose start is slow (vLLM) add what they would refuse only after it."""
        for ok, rule, value in (
            (params.temperature >= 0, "temperature must be >= 0", params.temperature),
            (0 < params.top_p <= 1, "top_p must be in (0, 1]", params.top_p),
            (params.repetition_penalty > 0, "repetition_penalty must be > 0", params.repetition_penalty),
            (params.max_tokens >= 1, "max_tokens must be >= 1", params.max_tokens),
        ):
            if not ok:
                raise BackendError(f"{rule}, got {value}")

    # --- tokenizer-side helpers ---
    @abstractmethod
    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """Render one user turn with the model's chat template, the assistant turn opened (raw prompt text)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under the model's tokenizer (no special tokens added)."""

    def describe(self) -> dict[str, Any]:
        """What makes the outputs beyond the versions of fs1's packages, for the manifest (``engine``), logs and
        benchmark reports: the settings an engine chose for itself (dtype, weights), a server's kind and version.
        Empty where the package versions and the options say it all."""
        return {}

    def raw_prompt_problem(self) -> str | None:
        """Why raw prompts (``chat_prompt`` + continuation) cannot be used here, as one line naming the fix; ``None``
        when they can. Local backends hold the tokenizer and always can; a server may serve no chat template."""
        return None

    # --- sequence-level interface (budget forcing, parallel sampling) ---
    @abstractmethod
    def open(self, prompts: list[str], n: int = 1, seeds: list[int | None] | None = None) -> list[Sequence]:
        """Start ``n`` sequences per prompt (flat list, prompt-major); ``seeds`` has one entry per sequence."""

    @abstractmethod
    def continue_(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        """Continue every sequence by up to ``params.max_tokens`` tokens, stopping at ``params.stop``.

        Appends the generated text (without the stop string) to ``seq.text``; ``params.n`` must be 1 here.
        """

    def append(self, seqs: list[Sequence], texts: list[str]) -> None:
        """Append forced text to each sequence; the next ``continue_`` processes only the new tokens."""
        for seq, text in zip(seqs, texts, strict=True):
            seq.text += text

    def fork(self, seqs: list[Sequence]) -> list[Sequence]:
        """Copy sequences so that each copy can be continued independently of its original (budget sweeps).

        The default deep-copies the backend state, right for plain-data states; backends holding caches override it
        to share what was already processed.
        """
        return [
            Sequence(s.prompt, s.prompt_index, s.sample, s.seed, s.text, copy.deepcopy(s.state), s.max_tokens)
            for s in seqs
        ]

    def close(self, seqs: list[Sequence]) -> None:
        """Release backend state held for these sequences."""
        for seq in seqs:
            seq.state = None

    # --- convenience built on the above ---
    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """Complete each raw prompt ``params.n`` times; returns one list of ``n`` completions per prompt.

        Sample ``j`` of prompt ``i`` draws with seed ``params.seed + i * n + j``; greedy ``n > 1`` is decoded once
        (``greedy_once``)."""
        params, copies = greedy_once(params)
        if copies > 1:
            return copied(self.generate(prompts, params), copies)
        seeds: list[int | None] | None = None
        if params.seed is not None:
            seeds = [params.seed + i for i in range(len(prompts) * params.n)]
        return self._complete(prompts, params, seeds)

    def _complete(
        self, prompts: list[str], params: SamplingParams, seeds: list[int | None] | None
    ) -> list[list[Completion]]:
        seqs = self.open(prompts, n=params.n, seeds=seeds)
        one = SamplingParams(**{**params.__dict__, "n": 1})
        outs = self.continue_(seqs, one)
        self.close(seqs)
        grouped: list[list[Completion]] = [[] for _ in prompts]
        for seq, out in zip(seqs, outs, strict=True):
            grouped[seq.prompt_index].append(out)
        return grouped

    def chat(
        self,
        conversations: list[list[dict[str, str]]],
        params: SamplingParams,
        seeds: list[int | None] | None = None,
    ) -> list[list[Completion]]:
        """Answer chat conversations (system/user messages); local backends render them with the chat template.

        ``seeds`` (one per conversation) replaces ``params.seed``: sample ``i`` of a conversation seeded ``s`` is
        drawn with ``s + i``, as a server that takes one choice per request is asked.
        """
        params, copies = greedy_once(params)
        if copies > 1:
            return copied(self.chat(conversations, params, seeds), copies)
        prompts = []
        for messages in conversations:
            system = next((m["content"] for m in messages if m["role"] == "system"), None)
            user = "\n".join(m["content"] for m in messages if m["role"] == "user")
            prompts.append(self.chat_prompt(user, system=system))
        if seeds is None:
            return self.generate(prompts, params)
        check_conversation_seeds(conversations, seeds)
        per_sequence = [None if s is None else s + i for s in seeds for i in range(params.n)]
        return self._complete(prompts, params, per_sequence)
