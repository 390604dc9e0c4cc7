"""Chat templates and token counts for the ``openai`` backend: a local tokenizer, or the server's own routes.

Servers differ (paths and bodies): llama.cpp ``POST /apply-template`` (newer) or the Jinja template itself in
``GET /props`` (``chat_template``, ``bos_token``, ``eos_token``; rendered here in a sandbox) and ``POST /tokenize
{"content"}``; vLLM and SGLang ``POST /tokenize`` with ``prompt`` or ``messages`` (+ ``/detokenize`` to read a
rendered template back); llama-cpp-python ``POST /extras/tokenize {"input"}`` and no template route at all. Each is
tried where the server kind says it exists (all of them, in turn, on an unknown server), and the first that answers
is remembered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fs1.backends.openai.transport import Transport

ROLE_LINE = "{role}: {content}"  # plain rendering for chat-only servers (never sent to a model as a template)

TOKENIZE_ROUTES: dict[str, tuple[str, ...]] = {
    "vllm": ("vllm",),
    "sglang": ("vllm",),
    "llamacpp": ("llamacpp",),
    "llama-cpp-python": ("llama-cpp-python",),
    "openai": (),
    "generic": ("vllm", "llamacpp", "llama-cpp-python"),
}
TEMPLATE_ROUTES: dict[str, tuple[str, ...]] = {
    "vllm": ("vllm",),
    "sglang": ("vllm",),  # SGLang's /tokenize mirrors vLLM's where the server version has it
    "llamacpp": ("llamacpp", "props"),
    "llama-cpp-python": (),
    "openai": (),
    "generic": ("llamacpp", "props", "vllm"),
}


def plain_render(messages: list[dict[str, str]]) -> str:
    """A readable stand-in for a templated prompt, for servers that take messages only."""
    return "\n\n".join(ROLE_LINE.format(role=m["role"], content=m["content"]) for m in messages)


def render_jinja_template(template: str, messages: list[dict[str, str]], *, bos_token: str = "",
                          eos_token: str = "") -> str:  # fmt: skip
    """Render a Hugging Face-style Jinja chat template the way ``apply_chat_template`` does (sandboxed, trimmed
    blocks, ``raise_exception``), the assistant turn opened."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token
    )


def load_local_tokenizer(name: str) -> Any:
    """A transformers tokenizer from a path or hub id; ``smollm2-135m`` uses the embedded model's tokenizer."""
    from transformers import AutoTokenizer

    from fs1.backends.embedded import cache_root, gguf_path, is_embedded

    if is_embedded(name):
        rebuilt = cache_root() / "models" / "smollm2-135m-instruct"
        if (rebuilt / "tokenizer_config.json").exists():
            return AutoTokenizer.from_pretrained(rebuilt)
        gguf = gguf_path()  # no rebuilt checkpoint yet: read the tokenizer straight from the GGUF
        return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    return AutoTokenizer.from_pretrained(name)


class ServerTokenizer:
    """Template rendering and token counting through whichever routes the server has."""

    def __init__(self, transport: Transport, flavour: Callable[[], str], model: Callable[[], str]) -> None:
        self._transport = transport
        self._flavour = flavour
        self._model = model
        self._count_route: str | None = None
        self._template_route: str | None = None
        self._bos_overhead: int | None = None
        self._props: dict[str, Any] | None = None  # GET /props, fetched once

    def _probe(self, path: str, body: dict[str, Any], *, discovering: bool) -> dict[str, Any] | None:
        return self._transport.probe_json(path, body, discovering=discovering)

    def count(self, text: str, *, special: bool = False) -> int | None:
        """Tokens of ``text`` (with the special tokens the server adds to a prompt when ``special``), or ``None``
        when no tokenize route answers."""
        routes = (self._count_route,) if self._count_route else TOKENIZE_ROUTES[self._flavour()]
        for route in routes:
            count = self._count_with(route, text, special)
            if count is not None:
                self._count_route = route
                return count
        return None

    def _count_with(self, route: str, text: str, special: bool) -> int | None:
        if route == "vllm":
            body = {"model": self._model(), "prompt": text, "add_special_tokens": special}
            reply = self._probe("tokenize", body, discovering=self._count_route is None)
            return (
                None
                if reply is None or "tokens" not in reply
                else int(reply.get("count", len(reply["tokens"])))
            )
        if route == "llamacpp":
            reply = self._probe(
                "tokenize", {"content": text, "add_special": special}, discovering=self._count_route is None
            )
            return None if reply is None or "tokens" not in reply else len(reply["tokens"])
        # llama-cpp-python adds BOS where the model wants one; subtract what an empty text gets (unless wanted).
        reply = self._probe("extras/tokenize", {"input": text}, discovering=self._count_route is None)
        if reply is None or "tokens" not in reply:
            return None
        if self._bos_overhead is None:
            empty = self._probe("extras/tokenize", {"input": ""}, discovering=self._count_route is None) or {}
            self._bos_overhead = len(empty.get("tokens") or [])
        return len(reply["tokens"]) - (0 if special else self._bos_overhead)

    def decode(self, ids: list[int]) -> str | None:
        """``ids`` as text, special tokens kept (vLLM/SGLang ``/detokenize``), or ``None`` where there is no route."""
        if "vllm" not in TOKENIZE_ROUTES[self._flavour()]:
            return None
        reply = self._probe("detokenize", {"model": self._model(), "tokens": ids}, discovering=False)
        return None if reply is None else reply.get("prompt")

    def render(self, messages: list[dict[str, str]]) -> str | None:
        """The prompt the server's chat template makes of ``messages``, or ``None`` when it cannot say."""
        routes = (self._template_route,) if self._template_route else TEMPLATE_ROUTES[self._flavour()]
        for route in routes:
            rendered = self._render_with(route, messages)
            # A template must carry the user's text; anything else is not a rendering we can use.
            if rendered is not None and messages[-1]["content"] in rendered:
                self._template_route = route
                return rendered
        return None

    def _render_with(self, route: str, messages: list[dict[str, str]]) -> str | None:
        if route == "props":
            return self._render_props(messages)
        if route == "llamacpp":
            reply = self._probe(
                "apply-template", {"messages": messages}, discovering=self._template_route is None
            )
            return None if reply is None else reply.get("prompt")
        body = {"model": self._model(), "messages": messages, "add_generation_prompt": True,
                "add_special_tokens": False}  # fmt: skip
        tokens = self._probe("tokenize", body, discovering=self._template_route is None)
        if tokens is None or "tokens" not in tokens:
            return None
        text = self._probe(
            "detokenize",
            {"model": self._model(), "tokens": tokens["tokens"]},
            discovering=self._template_route is None,
        )
        return None if text is None else text.get("prompt")

    def _render_props(self, messages: list[dict[str, str]]) -> str | None:
        """llama.cpp's ``/props`` publishes the model's Jinja template (and BOS/EOS texts): render it here."""
        if self._props is None:
            self._props = self._transport.probe_get("props") or {}
        template = self._props.get("chat_template")
        if not isinstance(template, str) or not template.strip():
            return None
        from jinja2 import TemplateError

        try:
            return render_jinja_template(
                template, messages, bos_token=str(self._props.get("bos_token") or ""),
                eos_token=str(self._props.get("eos_token") or ""),
            )  # fmt: skip
        except TemplateError:
            return None  # a template our sandbox cannot run: no server template, as if absent
