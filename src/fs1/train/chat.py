"""Splitting an s1 chat example into prompt and completion with the student's own chat template.

prompt = the template's rendering of the user turn with the assistant turn opened (the text the model sees at
inference); completion = the assistant text + the template's end-of-turn token. Training on prompt/completion pairs
with completion-only loss masks exactly the assistant part for any chat template, without the ``{% generation %}``
markers that ``assistant_only_loss`` needs (SmolLM2's template has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fs1.errors import ConfigError

# Stand-in assistant text used to find where the template closes the assistant turn; never reaches training data.
_SENTINEL = "\x00fs1-assistant-sentinel\x00"


class ChatTemplateError(ConfigError):
    """The tokenizer's chat template cannot be split into prompt and completion consistently."""


@dataclass
class ChatFormat:
    """The student's chat template, split at the start of the assistant turn."""

    tokenizer: Any
    end_of_turn: str
    strip_bos: str = ""  # BOS text the template renders and the tokenizer also adds: cut it from prompts

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> ChatFormat:
        """Inspect the template once: its end-of-turn text, and whether the tokenizer adds a BOS of its own."""
        if not getattr(tokenizer, "chat_template", None):
            raise ChatTemplateError("the student tokenizer has no chat template; use an instruct model")
        messages = [{"role": "user", "content": "q"}]
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": _SENTINEL}], tokenize=False
        )
        if not full.startswith(prompt) or _SENTINEL not in full:
            raise ChatTemplateError(
                "the chat template renders the prompt differently alone and before an answer; "
                "prompt/completion training would see a different context than inference"
            )
        between = full[len(prompt) : full.index(_SENTINEL)]
        if between:
            raise ChatTemplateError(f"the chat template inserts {between!r} before the assistant text")
        end_of_turn = _end_of_turn(tokenizer, full[full.index(_SENTINEL) + len(_SENTINEL) :])
        strip_bos = ""
        bos = getattr(tokenizer, "bos_token", None)
        adds_special = bool(tokenizer("x")["input_ids"][:1] == [getattr(tokenizer, "bos_token_id", None)])
        if bos and adds_special and prompt.startswith(bos):
            strip_bos = bos
        return cls(tokenizer=tokenizer, end_of_turn=end_of_turn, strip_bos=strip_bos)

    def prompt(self, question: str) -> str:
        """The user turn (template's default system prompt included) with the assistant turn opened."""
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        if self.strip_bos and text.startswith(self.strip_bos):
            text = text[len(self.strip_bos) :]
        return text

    def completion(self, assistant_text: str) -> str:
        """The assistant text closed by the end-of-turn token, so the model learns to stop."""
        return assistant_text + self.end_of_turn

    def token_ids(self, text: str) -> list[int]:
        """Token ids as TRL's prompt/completion preparation makes them (the tokenizer's default special tokens)."""
        return list(self.tokenizer(text)["input_ids"])

    def split_lengths(self, prompt: str, completion: str) -> tuple[int, int]:
        """(prompt tokens, completion tokens) of the concatenation; raises if the prompt is not a token prefix."""
        prompt_ids = self.token_ids(prompt)
        full_ids = self.token_ids(prompt + completion)
        if full_ids[: len(prompt_ids)] != prompt_ids:
            raise ChatTemplateError(
                "the prompt's tokens are not a prefix of prompt + completion (tokens merge across the boundary); "
                "the loss mask would be off"
            )
        return len(prompt_ids), len(full_ids) - len(prompt_ids)


def _end_of_turn(tokenizer: Any, suffix: str) -> str:
    """The special token that closes the assistant turn (e.g. ``<|im_end|>``), found in the template's suffix."""
    special = sorted(set(getattr(tokenizer, "all_special_tokens", []) or []), key=len, reverse=True)
    added = [t for t in (getattr(tokenizer, "get_added_vocab", dict)() or {}) if t not in special]
    for token in special + sorted(added, key=len, reverse=True):
        if token and suffix.lstrip().startswith(token):
            return token
    eos = getattr(tokenizer, "eos_token", None)
    if eos:
        return eos
    raise ChatTemplateError(f"cannot tell the end-of-turn token from the template suffix {suffix!r}")
