"""What differs between OpenAI-compatible servers, and how their replies become ``Completion`` objects.

Owns the server dialects (which field names carry top-k and repetition penalty, what "off" means, which fixed
fields keep a server from silently changing the sampling: llama.cpp's default ``min_p`` 0.05 and repeat penalty 1.1,
vLLM's ``skip_special_tokens`` that would hide the s1 answer marker), and the parsing of plain and streamed replies:
text, finish reason, the stop string that ended a choice (vLLM ``stop_reason``), the reasoning field
(``reasoning``, older ``reasoning_content``, or ``<think>…</think>`` in the content) and token usage with cached
prompt tokens (OpenAI/vLLM ``prompt_tokens_details.cached_tokens``, llama.cpp ``timings.cache_n``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fs1.backends.base import BackendError, Completion, SamplingParams
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
# No tokenizer's token is longer than this in UTF-8 (SmolLM2's longest is 81 characters): a reply longer than
# max_tokens × this cannot be within max_tokens, whatever the model, and is cut (``cut_choice``).
MAX_BYTES_PER_TOKEN = 256


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
    # return_token_ids: the generated ids, so token counts can leave out the stop string and EOS (spelling.py).
    "vllm": Dialect("top_k", "repetition_penalty", -1, True, {"min_p": 0.0},
                    {"skip_special_tokens": False, "spaces_between_special_tokens": False,
                     "return_token_ids": True}),
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
    data = models.get("data")
    # Only a hint: entries of another shape are passed over (a model named on the command line still works).
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict):
            continue
        flavour = OWNED_BY.get(str(entry.get("owned_by", "")).lower())
        if flavour:
            return flavour
    return "generic"


def model_entries(models: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a ``GET /v1/models`` reply, each an object with an ``id``; another shape is malformed."""
    entries = _expect(models.get("data"), list, "models: data") or []
    for i, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("id"), (str, int))
            or entry.get("id") == ""
        ):
            raise MalformedReply(
                f"malformed models list: data[{i}] should be an object with an id, got {entry!r:.60}"
            )
    return entries


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
    token_ids: list[int] | None = (
        None  # the generated ids, where the server returns them (vLLM return_token_ids)
    )
    prompt_token_ids: list[int] | None = None


@dataclass
class Reply:
    """A parsed reply: choices in index order and the usage the server reported (``None`` = not reported)."""

    choices: list[Choice]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None


class MalformedReply(BackendError):
    """A server reply that does not have the shape of the OpenAI API (a field of the wrong type, a choice that is
    not an object): a backend error, never text that could become a prediction."""


def _expect(value: Any, types: type | tuple[type, ...], where: str) -> Any:
    """``value`` if it is one of ``types`` or null; else ``MalformedReply`` naming the field and what it held."""
    if value is None or (
        isinstance(value, types) and not (isinstance(value, bool) and bool not in _tuple(types))
    ):
        return value
    names = "/".join(t.__name__ for t in _tuple(types))
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise MalformedReply(
        f"malformed server reply: {where} should be {names}, got {type(value).__name__} {shown}"
    )


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _count(obj: dict[str, Any], key: str, where: str) -> int | None:
    count = _expect(obj.get(key), int, f"{where}.{key}")
    if count is not None and count < 0:
        raise MalformedReply(f"malformed server reply: {where}.{key} should be a count, got {count}")
    return count


def _usage_into(reply: Reply, body: dict[str, Any]) -> None:
    usage = _expect(body.get("usage"), dict, "usage") or {}
    if usage.get("prompt_tokens") is not None:
        reply.prompt_tokens = _count(usage, "prompt_tokens", "usage")
    if usage.get("completion_tokens") is not None:
        reply.completion_tokens = _count(usage, "completion_tokens", "usage")
    details = _expect(usage.get("prompt_tokens_details"), dict, "usage.prompt_tokens_details") or {}
    if details.get("cached_tokens") is not None:
        reply.cached_tokens = _count(details, "cached_tokens", "usage.prompt_tokens_details")
    timings = _expect(body.get("timings"), dict, "timings") or {}
    if timings.get("cache_n") is not None:  # llama.cpp server: prompt tokens reused from its cache
        reply.cached_tokens = _count(timings, "cache_n", "timings")


def _ids(obj: dict[str, Any], key: str, where: str) -> list[int] | None:
    ids = _expect(obj.get(key), list, f"{where}.{key}")
    if ids is not None and not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise MalformedReply(f"malformed server reply: {where}.{key} should hold token ids (integers)")
    return ids


def _reasoning_of(obj: dict[str, Any], where: str) -> str:
    for key in REASONING_KEYS:
        if obj.get(key):
            return _expect(obj[key], str, f"{where}.{key}")
    return ""


def _choices_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    choices = _expect(body.get("choices"), list, "choices") or []
    for i, raw in enumerate(choices):
        _expect(raw, dict, f"choices[{i}]")
        if raw is None:
            raise MalformedReply(f"malformed server reply: choices[{i}] is null")
        _expect(raw.get("index"), int, f"choices[{i}].index")
        _expect(raw.get("finish_reason"), str, f"choices[{i}].finish_reason")
    return choices


def parse_reply(body: dict[str, Any], *, chat: bool) -> Reply:
    """Parse a non-streamed completions or chat reply; a reply of the wrong shape raises ``MalformedReply``."""
    choices: dict[int, Choice] = {}
    for i, raw in enumerate(_choices_of(body)):
        where = f"choices[{i}]"
        message = _expect(raw.get("message"), dict, f"{where}.message") or {}
        text = message.get("content") if chat else raw.get("text")
        choices[raw.get("index", len(choices))] = Choice(
            text=_expect(text, str, f"{where}.{'message.content' if chat else 'text'}") or "",
            reasoning=_reasoning_of(message, f"{where}.message") if chat else "",
            finish_reason=raw.get("finish_reason"),
            stop_reason=raw.get("stop_reason", raw.get("stopping_word")),
            token_ids=_ids(raw, "token_ids", where),
            prompt_token_ids=_ids(raw, "prompt_token_ids", where),
        )
    reply = Reply([choices[i] for i in sorted(choices)])
    _usage_into(reply, body)
    return reply


def parse_stream(events: list[dict[str, Any]], *, chat: bool) -> Reply:
    """Fold streamed events (deltas of text and reasoning) into one reply; malformed events raise."""
    choices: dict[int, Choice] = {}
    reply = Reply([])
    for event in events:
        _expect(event, dict, "stream event")
        for i, raw in enumerate(_choices_of(event)):
            choice = choices.setdefault(raw.get("index") or 0, Choice())
            where = f"choices[{i}]"
            if chat:
                delta = _expect(raw.get("delta"), dict, f"{where}.delta") or {}
                choice.text += _expect(delta.get("content"), str, f"{where}.delta.content") or ""
                choice.reasoning += _reasoning_of(delta, f"{where}.delta")
            else:
                choice.text += _expect(raw.get("text"), str, f"{where}.text") or ""
                if (ids := _ids(raw, "token_ids", where)) is not None:
                    choice.token_ids = (choice.token_ids or []) + ids
                if (prompt_ids := _ids(raw, "prompt_token_ids", where)) is not None:
                    choice.prompt_token_ids = prompt_ids
            if raw.get("finish_reason"):
                choice.finish_reason = raw["finish_reason"]
            if raw.get("stop_reason") is not None:
                choice.stop_reason = raw["stop_reason"]
        _usage_into(reply, event)
    reply.choices = [choices[i] for i in sorted(choices)]
    return reply


def scrub_reply(reply: Reply, scrub: Callable[[str], str]) -> Reply:
    """The reply with ``scrub`` (API-key masking) applied to all its text, after streamed pieces are joined: a key
    echoed by the server, even split across stream events, never reaches a prediction or a trace."""
    for choice in reply.choices:
        choice.text = scrub(choice.text)
        choice.reasoning = scrub(choice.reasoning)
    return reply


def overlong(choice: Choice, max_tokens: int, reported_tokens: int | None) -> bool:
    """Whether a choice is longer than ``max_tokens`` allows: the server counted more tokens for it, or its text
    (reasoning included) is more bytes than ``max_tokens`` tokens of any tokenizer can hold."""
    if reported_tokens is not None and reported_tokens > max_tokens:
        return True
    size = len(choice.reasoning.encode("utf-8")) + len(choice.text.encode("utf-8"))
    return size > max_tokens * MAX_BYTES_PER_TOKEN


def cut_choice(choice: Choice, max_tokens: int, tokenizer: Any = None) -> None:
    """Cut a choice to its first ``max_tokens`` tokens (reasoning first, then text) and mark it capped (``length``):
    with ``tokenizer`` exactly, else to the bytes ``max_tokens`` tokens can hold at most."""
    whole = choice.reasoning + choice.text
    head = whole[: max_tokens * MAX_BYTES_PER_TOKEN]  # enough characters for any max_tokens tokens
    if tokenizer is not None:
        kept = tokenizer.decode(tokenizer.encode(head, add_special_tokens=False)[:max_tokens])
        kept = kept if head.startswith(kept) else os.path.commonprefix([head, kept])
    else:
        kept = head.encode("utf-8")[: max_tokens * MAX_BYTES_PER_TOKEN].decode("utf-8", "ignore")
    split = min(len(choice.reasoning), len(kept))
    choice.reasoning, choice.text = kept[:split], kept[split:]
    choice.finish_reason = "length"
    choice.stop_reason = None


def cut_overlong(reply: Reply, max_tokens: int, tokenizer: Any = None) -> int:
    """Cut every choice longer than ``max_tokens`` allows (a server that ignored the cap) to it, marked capped, so
    it is never kept whole; the reported usage shrinks to match. Returns how many were cut."""
    reported = reply.completion_tokens if len(reply.choices) == 1 else None
    cut = [choice for choice in reply.choices if overlong(choice, max_tokens, reported)]
    for choice in cut:
        cut_choice(choice, max_tokens, tokenizer)
    if cut and reply.completion_tokens is not None:
        reply.completion_tokens = min(reply.completion_tokens, max_tokens * len(reply.choices))
    return len(cut)


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
