"""The ``openai`` backend: any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp, Ollama, hosted APIs).

Raw-text continuation goes through ``/v1/completions`` with ``prompt = seq.prompt + seq.text`` (budget forcing); the
server's prefix cache (vLLM automatic prefix caching, llama.cpp ``cache_prompt``) keeps the repeated prefix from being
prefilled again, and the cached-token counts it reports go into ``stats``. Servers without a completions endpoint
(detected from a 404/405/501, a 400 naming a chat model, or ``mode="chat"``) are driven through
``/v1/chat/completions``: prompts made by ``chat_prompt`` remember their messages, so ``generate`` still works, but
continuing a half-written sequence needs the completions endpoint and raises.

Requests run on a bounded thread pool (``concurrency``); retries, timeouts and key hygiene live in
``transport``; server dialects and reply parsing in ``protocol``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from fs1.backends.base import (
    Backend,
    BackendError,
    BackendStats,
    Completion,
    SamplingParams,
    Sequence,
    check_conversation_seeds,
    check_open_args,
    copied,
    greedy_once,
    parse_options,
)
from fs1.backends.openai.bodies import DEFAULT_MAX_RESPONSE_BYTES
from fs1.backends.openai.context import ContextWindow, context_completion, is_context_error, read_as_context
from fs1.backends.openai.counting import choice_tokens
from fs1.backends.openai.facts import server_facts
from fs1.backends.openai.protocol import (
    DIALECTS,
    Dialect,
    Reply,
    cut_overlong,
    flavour_from_models,
    model_entries,
    parse_reply,
    parse_stream,
    sampling_body,
    scrub_reply,
    split_tokens,
    to_completion,
)
from fs1.backends.openai.templates import ServerTokenizer, load_local_tokenizer, plain_render
from fs1.backends.openai.transport import ABSENT_STATUS, RemoteError, Transport

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
AUTO_MODEL = "auto"
CHAT_MODEL_HINT = "chat"  # a 400 from /v1/completions that mentions this means "use the chat endpoint"
PROBE_PROMPT = "Hi"
# How users hand the backend a tokenizer, named in errors (the same option on generate, distill and judge).
TOKENIZER_OPTION = "--tokenizer PATH|HUB_ID|smollm2-135m (tokenizer: in the experiment file)"


class OpenAIOptions(BaseModel):
    """Options of the ``openai`` backend (``load_backend("openai", model, **options)``)."""

    model_config = ConfigDict(extra="forbid")

    # Options that change how a reply is reached, never what it says (left out of stage fingerprints).
    OUTPUT_NEUTRAL: ClassVar[frozenset[str]] = frozenset(
        {"api_key_env", "concurrency", "timeout", "deadline", "max_response_bytes", "max_retries", "backoff_base",
         "max_backoff", "max_retry_after", "jitter", "stream"}
    )  # fmt: skip

    base_url: str = Field(default_factory=lambda: os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL),
                          description="OpenAI-compatible base URL, ending in /v1 ($OPENAI_BASE_URL).")  # fmt: skip
    api_key_env: str = Field(DEFAULT_KEY_ENV, description="Environment variable holding the API key.")
    mode: Literal["auto", "completions", "chat"] = Field("auto", description="Endpoint for raw prompts.")
    server: Literal["auto", "vllm", "sglang", "llamacpp", "llama-cpp-python", "openai", "generic"] = Field(
        "auto", description="Server kind (sampling field names); auto = from /v1/models owned_by."
    )
    tokenizer: str | None = Field(
        None, description="Local tokenizer (path, hub id, smollm2-135m) for templates."
    )
    concurrency: int = Field(8, ge=1, description="Requests in flight at once.")
    timeout: float = Field(
        600.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds one read may wait (a reply, or a streamed chunk when streaming).",
    )
    deadline: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Seconds one request may take in all, body included; None = timeout (6 × timeout streaming).",
    )
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES,
        ge=1024,
        description="Largest reply body read, after decompression (bytes).",
    )
    max_retries: int = Field(5, ge=0, description="Retries after the first attempt (429, 5xx, timeouts).")
    backoff_base: float = Field(0.5, ge=0, description="First backoff in seconds; doubles each retry.")
    max_backoff: float = Field(
        30.0, ge=0, allow_inf_nan=False, description="Cap on one exponential backoff, seconds."
    )
    max_retry_after: float = Field(
        600.0, ge=0, allow_inf_nan=False, description="Cap on a server's Retry-After, seconds."
    )
    jitter: float = Field(0.1, ge=0, description="Random extra backoff, as a fraction of it.")
    stream: bool = Field(False, description="Stream replies (SSE); a stall past the timeout is retried.")
    server_n: bool | None = Field(None, description="Server honours n (prefill once); None = detect.")
    drop_unsupported: bool = Field(
        False, description="Drop top_k/repetition_penalty a server rejects (else raise)."
    )
    context_length: int | None = Field(
        None,
        gt=0,
        description="The model's context in tokens; None = the server's (vLLM: /v1/models max_model_len).",
    )


@dataclass
class RemoteStats(BackendStats):
    """``BackendStats`` plus what servers report: prompt tokens sent, of them served from the prefix cache."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    retries: int = 0
    cut_replies: int = 0  # choices longer than max_tokens allows, cut to it (a server that ignored the cap)


class _ChatOnly(Exception):
    """The server has no completions endpoint (internal signal)."""


class OpenAIBackend(Backend):
    """Generation through an OpenAI-compatible HTTP server. The API key is read from the environment only."""

    name = "openai"
    supports_sequence_limits = True  # one request per sequence, so each may have its own max_tokens

    def __init__(self, model: str, *, sleep: Callable[[float], None] = time.sleep, **options: Any) -> None:
        super().__init__(model)
        self.options = parse_options(OpenAIOptions, options, self.name)
        self.stats: RemoteStats = RemoteStats()
        self._transport = Transport(
            self.options.base_url, self._api_key(), timeout=self.options.timeout,
            max_retries=self.options.max_retries, backoff_base=self.options.backoff_base,
            max_backoff=self.options.max_backoff, max_retry_after=self.options.max_retry_after,
            jitter=self.options.jitter, pool_size=self.options.concurrency, sleep=sleep,
            deadline=self.options.deadline, max_response_bytes=self.options.max_response_bytes,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._flavour: str | None = None if self.options.server == "auto" else self.options.server
        self._completions_ok: bool | None = {"auto": None, "completions": True, "chat": False}[
            self.options.mode
        ]
        self._server_n = self.options.server_n
        self._server_template: bool | None = None  # whether the server renders templates (probed once)
        self._messages: dict[str, list[dict[str, str]]] = {}  # rendered prompt → the messages it came from
        self._local_tokenizer: Any = None
        self._server_tokenizer = ServerTokenizer(
            self._transport, lambda: self.flavour, lambda: self.served_model
        )
        self.context = ContextWindow(
            self.options.context_length, self._models, lambda: self.served_model, self._prompt_tokens
        )

    def _api_key(self) -> str | None:
        name = self.options.api_key_env
        key = os.environ.get(name)
        if key is None and name != DEFAULT_KEY_ENV:
            raise BackendError(f"the API key variable {name} (api_key_env) is not set in the environment")
        return key

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.options.base_url!r})"

    def shutdown(self) -> None:
        """Close pooled HTTP connections."""
        self._transport.close()

    # --- server facts, discovered once ---
    @property
    def flavour(self) -> str:
        """The server kind (vllm, llamacpp, llama-cpp-python, sglang, openai, generic)."""
        if self._flavour is None:
            self._flavour = flavour_from_models(self._models(), self.options.base_url)
        return self._flavour

    @property
    def dialect(self) -> Dialect:
        return DIALECTS[self.flavour]

    @property
    def served_model(self) -> str:
        """The model name sent with requests; ``auto`` means the server's first model."""
        if self.model == AUTO_MODEL:
            listed = model_entries(self._models())
            if not listed:
                raise BackendError(f"{self._transport.url('models')} lists no model; pass the model name")
            self.model = str(listed[0]["id"])
        return self.model

    def describe(self) -> dict[str, Any]:
        """The server that makes the outputs: kind, version (vLLM's ``/version``), served model, context length."""
        return server_facts(
            self._transport, self.options.base_url, self.flavour, self.served_model, self.context.length
        )

    def _models(self) -> dict[str, Any]:
        try:
            return self._transport.get_json("models")
        except RemoteError as exc:
            if exc.status in ABSENT_STATUS:
                return {}
            raise

    # --- tokenizer-side helpers ---
    def _tokenizer(self) -> Any:
        if self._local_tokenizer is None and self.options.tokenizer:
            self._local_tokenizer = load_local_tokenizer(self.options.tokenizer)
        return self._local_tokenizer

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """Render with the local tokenizer's template, else the server's, else (chat-only server) as plain text."""
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        tokenizer = self._tokenizer()
        if tokenizer is not None:
            rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        elif self._server_has_template() and (found := self._server_tokenizer.render(messages)) is not None:
            rendered = found
        elif self._chat_only():
            rendered = plain_render(messages)
        else:
            raise BackendError(
                f"chat_prompt needs the model's chat template and {self.options.base_url} does not serve one: pass "
                f"the model's tokenizer with {TOKENIZER_OPTION}, or use the chat() method"
            )
        with self._lock:
            self._messages[rendered] = messages
        return rendered

    def raw_prompt_problem(self) -> str | None:
        """``None`` when prompts can be rendered here and continued through ``/v1/completions``; else why not."""
        if self._tokenizer() is None and not self._server_has_template():
            return (
                f"{self.options.base_url} serves no chat template, so the raw prompt cannot be built: pass the "
                f"model's tokenizer with {TOKENIZER_OPTION}"
            )
        if self._chat_only():
            return f"{self.options.base_url} has no /v1/completions endpoint, so raw text cannot be continued"
        return None

    def _server_has_template(self) -> bool:
        """Whether the server renders chat templates (probed once with a one-word conversation)."""
        if self.options.mode == "chat":
            return False
        if self._server_template is None:
            probe = [{"role": "user", "content": PROBE_PROMPT}]
            self._server_template = self._server_tokenizer.render(probe) is not None
        return self._server_template

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (no special tokens added): local tokenizer, else the server's tokenize route."""
        tokenizer = self._tokenizer()
        if tokenizer is not None:
            return len(tokenizer.encode(text, add_special_tokens=False))
        count = self._server_tokenizer.count(text)
        if count is None:
            raise BackendError(
                f"count_tokens needs a tokenizer and {self.options.base_url} has no tokenize route: pass the "
                f"model's tokenizer with {TOKENIZER_OPTION}"
            )
        return count

    def _prompt_tokens(self, prompt: str) -> int:
        """Tokens of a raw prompt as the server counts it (with the special tokens it adds, e.g. a BOS)."""
        tokenizer = self._tokenizer()
        if tokenizer is not None:
            return len(tokenizer.encode(prompt, add_special_tokens=True))
        count = self._server_tokenizer.count(prompt, special=True)
        return self.count_tokens(prompt) if count is None else count

    def _chat_only(self) -> bool:
        """Whether raw prompts must go through chat; probes the completions endpoint once in auto mode."""
        if self._completions_ok is None and self.flavour == "openai":
            self._completions_ok = False
        if self._completions_ok is None:
            probe = SamplingParams(max_tokens=1)
            with contextlib.suppress(_ChatOnly):  # the probe's only job is to set _completions_ok
                self._completions_request(PROBE_PROMPT, probe, n=1, seed=None)
        return self._completions_ok is False

    # --- sequence interface ---
    def open(self, prompts: list[str], n: int = 1, seeds: list[int | None] | None = None) -> list[Sequence]:
        """One handle per sample; nothing is sent until ``continue_`` (the server keeps the prefix cache)."""
        check_open_args(prompts, n, seeds)
        return [
            Sequence(prompt=p, prompt_index=i, sample=j, seed=None if seeds is None else seeds[i * n + j])
            for i, p in enumerate(prompts)
            for j in range(n)
        ]

    def continue_(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        """One request per sequence (``concurrency`` in flight) on ``prompt + text``, up to the sequence's own
        ``max_tokens`` where set; appends the new text."""
        if params.n != 1:
            raise ValueError("continue_ takes params.n == 1 (open n sequences instead)")

        def one(seq: Sequence) -> Completion:
            limit = params.max_tokens if seq.max_tokens is None else min(params.max_tokens, seq.max_tokens)
            if limit <= 0:  # budget already spent: servers reject max_tokens 0
                return Completion(text="", tokens=0, finish_reason="length")
            own = params if limit == params.max_tokens else dataclasses.replace(params, max_tokens=limit)
            out = self._sample(seq.prompt, seq.text, own, n=1, seed=seq.seed)[0]
            seq.text += out.text
            return out

        return self._map(one, seqs)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """``n`` samples per prompt: one request with ``n`` where the server honours it (prefill once), else fan out.

        Seeds follow ``Backend.generate``: prompt ``i`` starts at ``params.seed + i * n`` and a fanned-out sample
        ``j`` draws with that plus ``j``; a request with ``n`` choices carries the first (the server draws the rest).
        """
        params, copies = greedy_once(params)
        if copies > 1:
            return copied(self.generate(prompts, params), copies)
        if params.n == 1 or self._server_n is False:
            return super().generate(prompts, params)
        firsts = [None if params.seed is None else params.seed + i * params.n for i in range(len(prompts))]
        return self._map(
            lambda pair: self._sample(pair[0], "", params, n=params.n, seed=pair[1]),
            list(zip(prompts, firsts, strict=True)),
        )

    def chat(
        self,
        conversations: list[list[dict[str, str]]],
        params: SamplingParams,
        seeds: list[int | None] | None = None,
    ) -> list[list[Completion]]:
        """Answer conversations through the chat endpoint (``n`` choices per request where the server honours it);
        the reasoning field lands in ``Completion.reasoning``. ``seeds``: one per conversation, else ``params.seed``.
        """
        params, copies = greedy_once(params)
        if copies > 1:
            return copied(self.chat(conversations, params, seeds), copies)
        if seeds is None:
            seeds = [params.seed] * len(conversations)
        check_conversation_seeds(conversations, seeds)
        return self._map(
            lambda pair: self._sample_n(("chat", pair[0]), params, n=params.n, seed=pair[1]),
            list(zip(conversations, seeds, strict=True)),
        )

    # --- requests ---
    def _sample(self, prompt: str, text: str, params: SamplingParams, *, n: int, seed: int | None
                ) -> list[Completion]:  # fmt: skip
        """Sample from a raw prompt (plus text generated so far), through chat when the server is chat-only; fitted
        into the model's context (``context.ContextWindow``)."""
        if self._completions_ok is not False:
            fitted = self.context.fit(prompt + text, params)
            if fitted is None:  # not one more token fits: the sequence ends here, the run goes on
                return [context_completion() for _ in range(n)]
            own, capped = fitted
            try:
                outs = self._sample_n(("completions", prompt + text), own, n=n, seed=seed)
            except _ChatOnly:
                pass
            else:
                return [read_as_context(out) for out in outs] if capped else outs
        with self._lock:
            messages = self._messages.get(prompt)
        if messages is None:
            raise BackendError(
                f"{self.options.base_url} has no completions endpoint, so raw prompts cannot be sent; build prompts "
                "with chat_prompt() or call chat()"
            )
        if text:
            raise BackendError(
                f"continuing a started sequence (budget forcing) needs raw-text completions, which "
                f"{self.options.base_url} does not serve; use a completions-capable server or parallel sampling only"
            )
        return self._sample_n(("chat", messages), params, n=n, seed=seed)

    def _sample_n(self, target: tuple[str, Any], params: SamplingParams, *, n: int, seed: int | None
                  ) -> list[Completion]:  # fmt: skip
        """``n`` completions of one target; falls back to one request per sample if the server ignores ``n``.

        ``seed`` is authoritative (a sequence's own seed; ``None`` = unseeded), ``params.seed`` is not consulted.
        """
        outs: list[Completion] = []
        if n == 1 or self._server_n is not False:
            try:
                outs = self._request(target, params, n=n, seed=seed)
            except RemoteError as exc:
                if n == 1 or exc.status != 400 or self._server_n is not None:
                    raise
                outs = []  # a 400 on n > 1: assume the server takes one choice per request
            if len(outs) < n and self._server_n is None:
                log.info(
                    "%s returned %d of %d choices: fanning out instead", self.options.base_url, len(outs), n
                )
                self._server_n = False
        for i in range(len(outs), n):  # fan out what the server did not return
            sample_seed = None if seed is None else seed + i
            outs += self._request(target, params, n=1, seed=sample_seed)
        return outs[:n]

    def _request(self, target: tuple[str, Any], params: SamplingParams, *, n: int, seed: int | None
                 ) -> list[Completion]:  # fmt: skip
        kind, payload = target
        try:
            if kind == "completions":
                reply = self._completions_request(payload, params, n=n, seed=seed)
            else:
                reply = self._post(kind, {"messages": payload}, params, n=n, seed=seed)
        except RemoteError as exc:
            if not is_context_error(exc.status, str(exc)):
                raise
            log.warning("%s: the prompt does not fit the model's context: %s", self.options.base_url, exc)
            return [context_completion() for _ in range(n)]
        return self._completions_of(reply, params, chat=kind == "chat")

    def _completions_request(self, prompt: str, params: SamplingParams, *, n: int, seed: int | None) -> Reply:
        try:
            reply = self._post("completions", {"prompt": prompt}, params, n=n, seed=seed)
        except RemoteError as exc:
            absent = exc.status in ABSENT_STATUS or (
                exc.status == 400 and CHAT_MODEL_HINT in str(exc).lower()
            )
            if self._completions_ok is None and absent:
                log.info("%s has no completions endpoint: using chat", self.options.base_url)
                self._completions_ok = False
                raise _ChatOnly from None
            raise
        self._completions_ok = True
        return reply

    def _post(self, kind: str, payload: dict[str, Any], params: SamplingParams, *, n: int, seed: int | None
              ) -> Reply:  # fmt: skip
        chat = kind == "chat"
        fields, unsupported = sampling_body(params, self.dialect, chat=chat, n=n, seed=seed)
        if unsupported and not self.options.drop_unsupported:
            raise BackendError(
                f"the {self.flavour} server at {self.options.base_url} cannot honour "
                f"{', '.join(f'{name}={getattr(params, name)}' for name in unsupported)}: reset them to their "
                "defaults or pass drop_unsupported=true to drop them knowingly"
            )
        body = {"model": self.served_model, **payload, **fields}
        path = "chat/completions" if chat else "completions"
        if self.options.stream:
            body["stream_options"] = {"include_usage": True}
            reply = parse_stream(self._transport.post_stream(path, body), chat=chat)
        else:
            reply = parse_reply(self._transport.post_json(path, body), chat=chat)
        reply = scrub_reply(reply, self._transport.scrub)
        if not reply.choices:
            raise BackendError(f"{self._transport.url(path)} returned no choices")
        self._cut_overlong(reply, params.max_tokens, self._transport.url(path))
        self._account(reply)
        return reply

    def _cut_overlong(self, reply: Reply, max_tokens: int, url: str) -> None:
        """Choices longer than ``max_tokens`` allows are cut to it, counted in ``stats.cut_replies`` and logged."""
        cut = cut_overlong(reply, max_tokens, self._tokenizer())
        if cut:
            with self._lock:
                self.stats.cut_replies += cut
            log.warning("%s sent %d choices longer than max_tokens %d allows: cut, counted as capped", url, cut,
                        max_tokens)  # fmt: skip

    def _completions_of(self, reply: Reply, params: SamplingParams, *, chat: bool) -> list[Completion]:
        total = reply.completion_tokens
        if total is None:  # usage not reported: count the text ourselves
            total = sum(self.count_tokens(c.text + c.reasoning) for c in reply.choices)
            with self._lock:
                self.stats.generated_tokens += total
        counts = split_tokens(total, reply.choices, params.max_tokens)
        if (
            not chat
        ):  # raw text: the contract's count (spelling.py), where the server's ids or a tokenizer tell it
            spelled = [choice_tokens(c, self._decode, self._text_tokens) for c in reply.choices]
            counts = [usage if own is None else own for own, usage in zip(spelled, counts, strict=True)]
        return [
            to_completion(choice, tokens, reply.prompt_tokens, params.stop, chat=chat)
            for choice, tokens in zip(reply.choices, counts, strict=True)
        ]

    def _decode(self, ids: list[int]) -> str | None:
        """Ids as text with special tokens kept: the local tokenizer, else the server's ``/detokenize``."""
        tokenizer = self._tokenizer()
        if tokenizer is not None:
            return tokenizer.decode(ids, skip_special_tokens=False)
        return self._server_tokenizer.decode(ids)

    def _text_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` where a tokenizer (local or the server's) can count them, else ``None``."""
        if not text:
            return 0
        tokenizer = self._tokenizer()
        if tokenizer is not None:
            return len(tokenizer.encode(text, add_special_tokens=False))
        return self._server_tokenizer.count(text)

    def _account(self, reply: Reply) -> None:
        prompt = reply.prompt_tokens or 0
        cached = min(reply.cached_tokens or 0, prompt)
        with self._lock:
            self.stats.calls += 1
            self.stats.prompt_tokens += prompt
            self.stats.cached_tokens += cached
            self.stats.prefilled_tokens += prompt - cached
            self.stats.generated_tokens += reply.completion_tokens or 0
            self.stats.retries = self._transport.retries

    def _map(self, fn: Callable[[T], R], items: list[T]) -> list[R]:
        """``fn`` over ``items`` with at most ``concurrency`` in flight; results in order, first error raised."""
        if len(items) <= 1 or self.options.concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
