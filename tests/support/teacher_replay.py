"""A teacher replay server for distillation tests, built on ``ScriptedOpenAIServer`` (real HTTP on 127.0.0.1).

Each question gets a scripted teacher turn (reasoning + final answer text) delivered in the shape real reasoning
servers use: a separate ``reasoning`` field (vLLM, OpenRouter), the older ``reasoning_content`` (DeepSeek API,
SGLang), ``<think>…</think>`` in the content (QwQ / R1 behind a server without a reasoning parser; ``bare_think``:
the opening tag eaten by the chat template), or a plain reply with no reasoning channel. Replies are looked up by a
key contained in the last user message. An optional gate holds every reply after the first ``free`` ones until the
test opens it (to kill a client while requests are in flight).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

STYLES = ("reasoning", "reasoning_content", "think", "bare_think", "plain")
GATE_TIMEOUT_S = 60.0


@dataclass
class TeacherTurn:
    """What the teacher says about one question."""

    reasoning: str
    answer: str  # the text after the reasoning, e.g. "The winner was the Houston Rockets. \\boxed{Houston Rockets}"
    style: str = "reasoning"
    finish_reason: str = "stop"


def shape_reply(turn: TeacherTurn, prompt: str) -> Reply:
    """The wire shape of ``turn`` (``Reply`` of the scripted server), token counts by whitespace words."""
    if turn.style not in STYLES:
        raise ValueError(f"unknown style {turn.style!r}")
    reasoning: str | None = None
    key = "reasoning"
    if turn.style in ("reasoning", "reasoning_content"):
        text, reasoning, key = turn.answer, turn.reasoning, turn.style
    elif turn.style == "think":
        text = f"<think>\n{turn.reasoning}\n</think>\n\n{turn.answer}"
    elif turn.style == "bare_think":
        text = f"{turn.reasoning}\n</think>\n\n{turn.answer}"
    else:
        text = f"{turn.reasoning}\n{turn.answer}"
    out = len(text.split()) + len((reasoning or "").split())
    return Reply(text=text, reasoning=reasoning, reasoning_key=key, finish_reason=turn.finish_reason,
                 prompt_tokens=len(prompt.split()), completion_tokens=out)  # fmt: skip


@dataclass
class TeacherReplay:
    """Responder for ``ScriptedOpenAIServer``: ``turns`` maps a key found in the prompt to a teacher turn."""

    turns: dict[str, TeacherTurn]
    free: int | None = None  # replies served before the gate closes (None: never gated)
    gate: threading.Event = field(default_factory=threading.Event)
    latency_s: float = 0.0  # simulated generation time per reply (benchmarks of the concurrency bound)
    served: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, endpoint: str, body: dict[str, Any]) -> Reply:
        prompt = body["messages"][-1]["content"] if endpoint == "chat" else str(body.get("prompt", ""))
        turn = next((t for key, t in self.turns.items() if key in prompt), None)
        if turn is None:
            raise KeyError(f"no scripted teacher turn for prompt {prompt[:80]!r}")
        with self._lock:
            self.served += 1
            held = self.free is not None and self.served > self.free
        if held:
            self.gate.wait(GATE_TIMEOUT_S)
        if self.latency_s:
            time.sleep(self.latency_s)  # stands for the teacher's generation time, not a synchronisation
        return shape_reply(turn, prompt)


def replay_server(turns: dict[str, TeacherTurn], **kwargs: Any) -> tuple[ScriptedOpenAIServer, TeacherReplay]:
    """A not-yet-started server replaying ``turns`` (use it as a context manager) and its responder."""
    replay = TeacherReplay(turns, **kwargs)
    return ScriptedOpenAIServer(responder=replay, model="replay-teacher"), replay
