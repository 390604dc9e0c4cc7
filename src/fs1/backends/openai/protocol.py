"""What differs between OpenAI-compatible servers, and how their replies become ``Completion`` objects.

Owns the server dialects (which field names carry top-k and repetition penalty, what "off" means, which fixed
fields keep a server from silently changing the sampling: llama.cpp's default ``min_p`` 0.05 and repeat penalty 1.1,
vLLM's ``skip_special_tokens`` that would hide the s1 answer marker), and the parsing of plain and streamed replies:
text, finish reason, the stop string that ended a choice (vLLM ``stop_reason``), the reasoning field
(``reasoning``, older ``reasoning_content``, or ``<think>…</think>`` in the content) and token usage with cached
prompt tokens (OpenAI/vLLM ``prompt_tokens_details.cached_tokens``, llama.cpp ``timings.cache_n``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fs1.backends.base import Completion, SamplingParams
from fs1.prompts import THINK_CLOSE_TAG, THINK_OPEN_TAG

FLAVOURS = ("vllm", "sglang", "llamacpp", "llama-cpp-python", "openai", "generic")
# ``owned_by`` of /v1/models entries → server flavour.
OWNED_BY = {
    "vllm": "vllm",
    "sglang": "sglang",
    "llamacpp": "llamacpp",
    "me": "llama-cpp-python",
    "openai": "openai",
    "system": "openai",
    "openai-internal": "openai",
}
HOSTED_OPENAI_HOST = "api.openai.com"
REASONING_KEYS = ("reasoning", "reasoning_content")


@dataclass(frozen=True)
class Dialect:
    """How one kind of server takes the sampling fields outside the OpenAI standard."""

    top_k: str | None  # field name, None = the server has no top-k
    repetition_penalty: str | None  # field name, None = the server has no repetition penalty
    top_k_off: int  # the value that disables top-k on this server
    send_defaults: bool  # send "off" values explicitly (the server's own defaults would differ)
    fixed: dict[str, Any] = field(default_factory=dict)  # sent with every generation request
    raw_fixed: dict[str, Any] = field(default_factory=dict)  # sent with raw-text (completions) requests only
    max_tokens_chat: str = "max_tokens"  # hosted OpenAI wants max_completion_tokens on chat


DIALECTS: dict[str, Dialect] = {
    # vLLM serve would otherwise apply the model's generation_config (e.g. Qwen's top_k 20) to omitted fields.
    # Raw text keeps special tokens so stop strings such as "<|im_start|>answer" can match.
    "vllm": Dialect("top_k", "repetition_penalty", -1, True, {"min_p": 0.0},
                    {"skip_special_tokens": False, "spaces_between_special_tokens": False}),
    "sglang": Dialect("top_k", "repetition_penalty", -1, True, {"min_p": 0.0}, {"skip_special_tokens": False}),
    # llama.cpp defaults: top_k 40, repeat_penalty 1.1 (llama-cpp-python), min_p 0.05; top_k 0 disables.
    "llamacpp": Dialect("top_k", "repeat_penalty", 0, True, {"min_p": 0.0, "cache_prompt": True}),
    "llama-cpp-python": Dialect("top_k", "repeat_penalty", 0, True, {"min_p": 0.0}),
    "openai": Dialect(None, None, -1, False, {}, max_tokens_chat="max_completion_tokens"),
    # Unknown servers: vLLM names, sent only when they change something.
    "generic": Dialect("top_k", "repetition_penalty", -1, False, {}),
}  # fmt: skip


def flavour_from_models(models: dict[str, Any], base_url: str) -> str:
    """Guess the server kind from ``GET /v1/models`` (its ``owned_by``) and the host name."""
    if HOSTED_OPENAI_HOST in base_url:
        return "openai"
    for entry in models.get("data") or []:
        flavour = OWNED_BY.get(str(entry.get("owned_by", "")).lower())
        if flavour:
            return flavour
    return "generic"


def split_think(content: str) -> tuple[str, str | None]:
    """Split ``<think>…</think>`` (or a bare ``…</think>`` when the template opened it) off the content."""
    close = content.find(THINK_CLOSE_TAG)
    if close < 0:
        return content, None
    head = content[:close]
    open_at = head.find(THINK_OPEN_TAG)
    if open_at >= 0:
        if head[:open_at].strip():  # text before <think>: not a leading reasoning block
            return content, None
        head = head[open_at + len(THINK_OPEN_TAG) :]
    return content[close + len(THINK_CLOSE_TAG) :].lstrip("\n"), head.strip("\n")


@dataclass
class Choice:
    """One choice of a reply, as the server sent it."""

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    stop_reason: Any = None


@dataclass
class Reply:
    """A parsed reply: choices in index order and the usage the server reported (``None`` = not reported)."""

    choices: list[Choice]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None


def _usage_into(reply: Reply, body: dict[str, Any]) -> None:
    usage = body.get("usage") or {}
    if usage.get("prompt_tokens") is not None:
        reply.prompt_tokens = int(usage["prompt_tokens"])
    if usage.get("completion_tokens") is not None:
        reply.completion_tokens = int(usage["completion_tokens"])
    details = usage.get("prompt_tokens_details") or {}
    if details.get("cached_tokens") is not None:
        reply.cached_tokens = int(details["cached_tokens"])
    timings = body.get("timings") or {}
    if timings.get("cache_n") is not None:  # llama.cpp server: prompt tokens reused from its cache
        reply.cached_tokens = int(timings["cache_n"])


def _reasoning_of(obj: dict[str, Any]) -> str:
    for key in REASONING_KEYS:
        if obj.get(key):
            return str(obj[key])
    return ""


def parse_reply(body: dict[str, Any], *, chat: bool) -> Reply:
    """Parse a non-streamed completions or chat reply."""
    choices: dict[int, Choice] = {}
    for raw in body.get("choices") or []:
        message = raw.get("message") or {}
        choices[int(raw.get("index", len(choices)))] = Choice(
            text=str((message.get("content") if chat else raw.get("text")) or ""),
            reasoning=_reasoning_of(message) if chat else "",
            finish_reason=raw.get("finish_reason"),
            stop_reason=raw.get("stop_reason", raw.get("stopping_word")),
        )
    reply = Reply([choices[i] for i in sorted(choices)])
    _usage_into(reply, body)
    return reply


def parse_stream(events: list[dict[str, Any]], *, chat: bool) -> Reply:
    """Fold streamed events (deltas of text and reasoning) into one reply."""
    choices: dict[int, Choice] = {}
    reply = Reply([])
    for event in events:
        for raw in event.get("choices") or []:
            choice = choices.setdefault(int(raw.get("index", 0)), Choice())
            if chat:
                delta = raw.get("delta") or {}
                choice.text += str(delta.get("content") or "")
                choice.reasoning += _reasoning_of(delta)
            else:
                choice.text += str(raw.get("text") or "")
            if raw.get("finish_reason"):
                choice.finish_reason = raw["finish_reason"]
            if raw.get("stop_reason") is not None:
                choice.stop_reason = raw["stop_reason"]
        _usage_into(reply, event)
    reply.choices = [choices[i] for i in sorted(choices)]
    return reply


def normalise_finish(reason: str | None) -> str:
    """``length`` stays; ``stop``/``eos``/missing become ``stop``; others (``content_filter``…) pass through."""
    if reason in (None, "", "stop", "eos", "stop_sequence"):
        return "stop"
    return str(reason)


def split_tokens(total: int, choices: list[Choice], max_tokens: int) -> list[int]:
    """Share a reply's ``completion_tokens`` among its choices: ``max_tokens`` for those cut by length, the rest
    in proportion to text length (servers report only the total for ``n`` > 1)."""
    if len(choices) == 1:
        return [total]
    counts = [max_tokens if normalise_finish(c.finish_reason) == "length" else 0 for c in choices]
    rest = max(0, total - sum(counts))
    open_idx = [i for i, c in enumerate(choices) if counts[i] == 0]
    weights = [len(choices[i].text) + len(choices[i].reasoning) + 1 for i in open_idx]
    share = 0
    for pos, i in enumerate(open_idx):
        counts[i] = rest - share if pos == len(open_idx) - 1 else rest * weights[pos] // sum(weights)
        share += counts[i]
    return counts


def to_completion(choice: Choice, tokens: int, prompt_tokens: int | None, stops: list[str], *, chat: bool
                  ) -> Completion:  # fmt: skip
    """A ``Completion`` from one choice; chat content is split into answer text and reasoning."""
    text, reasoning = choice.text, choice.reasoning or None
    if chat and reasoning is None:
        text, reasoning = split_think(text)
    stop = choice.stop_reason if isinstance(choice.stop_reason, str) and choice.stop_reason in stops else None
    return Completion(text=text, tokens=tokens, finish_reason=normalise_finish(choice.finish_reason), stop=stop,
                      reasoning=reasoning, prompt_tokens=prompt_tokens)  # fmt: skip


def sampling_body(params: SamplingParams, dialect: Dialect, *, chat: bool, n: int, seed: int | None
                  ) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """Request fields for ``params`` on this dialect, and the names of fields the server cannot honour."""
    body: dict[str, Any] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        (dialect.max_tokens_chat if chat else "max_tokens"): params.max_tokens,
        **dialect.fixed,
        **({} if chat else dialect.raw_fixed),
    }
    if n != 1:
        body["n"] = n
    if params.stop:
        body["stop"] = list(params.stop)
    if seed is not None:
        body["seed"] = seed
    unsupported: list[str] = []
    top_k_on = params.top_k > 0
    if dialect.top_k is None:
        unsupported += ["top_k"] if top_k_on else []
    elif top_k_on or dialect.send_defaults:
        body[dialect.top_k] = params.top_k if top_k_on else dialect.top_k_off
    penalty_on = params.repetition_penalty != 1.0
    if dialect.repetition_penalty is None:
        unsupported += ["repetition_penalty"] if penalty_on else []
    elif penalty_on or dialect.send_defaults:
        body[dialect.repetition_penalty] = params.repetition_penalty
    return body, unsupported
