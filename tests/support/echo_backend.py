"""A backend written for the tests in the files a new backend takes (docs/architecture.md "A backend"): this module
(the class and its options model) and one entry in ``fs1.backends.BACKENDS``, which ``echo_entry`` gives. It answers
every prompt with its ``reply`` option, one whitespace-separated word per token."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fs1.backends import BackendInfo
from fs1.backends.base import Backend, Completion, SamplingParams, Sequence, check_open_args


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reply: str = Field("\\boxed{Paris}", description="The text every continuation is.")


class EchoBackend(Backend):
    name = "echo"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model)
        self.options = EchoOptions(**options)

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        return f"{system or ''}\nUSER: {user}\nASSISTANT:"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def open(self, prompts: list[str], n: int = 1, seeds: list[int | None] | None = None) -> list[Sequence]:
        check_open_args(prompts, n, seeds)
        return [
            Sequence(prompt, i, j, None if seeds is None else seeds[i * n + j])
            for i, prompt in enumerate(prompts)
            for j in range(n)
        ]

    def continue_(self, seqs: list[Sequence], params: SamplingParams) -> list[Completion]:
        outs = []
        for seq in seqs:
            seq.text += self.options.reply
            outs.append(Completion(self.options.reply, self.count_tokens(self.options.reply), "stop"))
        return outs


def echo_entry() -> BackendInfo:
    """The registry entry of the echo backend."""
    return BackendInfo(
        "tests.support.echo_backend:EchoBackend",
        "tests.support.echo_backend:EchoOptions",
        remote=False,
        gpu=False,
    )
