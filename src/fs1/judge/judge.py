"""The LLM judge: judge prompts, strict verdict parsing, and a ``Judge`` that asks a backend, cache first.

Two prompts (texts in ``fs1.prompts``):

- ``fs1``: the paper's containment judge (protocol §4): the gold answer list and the predicted answer as JSON,
  and "is the gold answer entity or value contained in the predicted answer? answer 0 or 1" (5 output tokens,
  greedy).
- ``simpleqa``: a SimpleQA-style grader with three grades, CORRECT / INCORRECT / NOT_ATTEMPTED (also sees the
  question).

Parsing is strict: the whole reply, once surrounding white space, quotes, Markdown emphasis and one final full
stop are stripped, must be one of the prompt's reply tokens. Anything else is an ``error`` verdict — counted
and reported by the stage, never read as "incorrect" — and is not cached, so a later run asks again.

The ``Judge`` asks only what its cache (``cache.VerdictCache``) does not already hold, and asks each
distinct request once: the cache key covers the judge model and the exact messages (prompt, gold list,
predicted answer).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fs1 import prompts
from fs1.backends.base import Backend, SamplingParams
from fs1.judge.cache import CachedVerdict, VerdictCache

VERDICT_CORRECT = "correct"
VERDICT_INCORRECT = "incorrect"
VERDICT_NOT_ATTEMPTED = "not_attempted"
VERDICT_ERROR = "error"
VERDICTS = (VERDICT_CORRECT, VERDICT_INCORRECT, VERDICT_NOT_ATTEMPTED, VERDICT_ERROR)

# Where a verdict came from (``decided_by`` of a judged row; rules add ``rule:<name>``).
SOURCE_JUDGE = "judge"
SOURCE_CACHE = "cache"
SOURCE_NO_ANSWER = "no_answer"
RULE_PREFIX = "rule:"

DEFAULT_BATCH_SIZE = 32
ERROR_EXAMPLES_KEPT = 20  # unparseable replies kept for the report (the count is always exact)
# Characters stripped around a reply before it is compared with the prompt's reply tokens.
_REPLY_WRAPPING = " \t\r\n\"'`*"


@dataclass(frozen=True)
class JudgePrompt:
    """One judge prompt: its messages and the replies it accepts (upper-cased reply token -> verdict)."""

    name: str
    system: str
    user: str
    replies: Mapping[str, str]

    def messages(self, question: str, gold: Sequence[str], prediction: str) -> list[dict[str, str]]:
        """The chat messages about one predicted answer (gold and prediction as JSON, as in the paper)."""
        user = self.user.format(
            question=question.strip(),
            gold=json.dumps(list(gold), ensure_ascii=False),
            prediction=json.dumps(prediction, ensure_ascii=False),
        )
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def parse(self, reply: str) -> str:
        """The verdict a reply states, or ``error`` when the reply is anything but one accepted token."""
        token = reply.strip(_REPLY_WRAPPING)
        if token.endswith("."):
            token = token[:-1].strip(_REPLY_WRAPPING)
        return self.replies.get(token.upper(), VERDICT_ERROR)


def _replies(**groups: Sequence[str]) -> dict[str, str]:
    return {token: verdict for verdict, tokens in groups.items() for token in tokens}


PROMPTS: dict[str, JudgePrompt] = {
    "fs1": JudgePrompt(
        "fs1",
        prompts.JUDGE_FS1_SYSTEM,
        prompts.JUDGE_FS1_USER,
        _replies(correct=(prompts.JUDGE_FS1_CORRECT,), incorrect=(prompts.JUDGE_FS1_INCORRECT,)),
    ),
    "simpleqa": JudgePrompt(
        "simpleqa",
        prompts.JUDGE_SIMPLEQA_SYSTEM,
        prompts.JUDGE_SIMPLEQA_USER,
        _replies(
            correct=prompts.JUDGE_SIMPLEQA_CORRECT,
            incorrect=prompts.JUDGE_SIMPLEQA_INCORRECT,
            not_attempted=prompts.JUDGE_SIMPLEQA_NOT_ATTEMPTED,
        ),
    ),
}


def get_prompt(name: str) -> JudgePrompt:
    """The judge prompt called ``name`` (``fs1`` or ``simpleqa``); ``ValueError`` for any other name."""
    if name not in PROMPTS:
        raise ValueError(f"unknown judge prompt {name!r}; choose one of {', '.join(PROMPTS)}")
    return PROMPTS[name]


@dataclass(frozen=True)
class JudgeRequest:
    """What the judge is asked about: a question, its gold answers (main + aliases) and a predicted answer."""

    question: str
    gold: tuple[str, ...]
    prediction: str


@dataclass(frozen=True)
class JudgeOutcome:
    """The judge's verdict on one request, its raw reply, and its source: ``judge`` or ``cache``."""

    verdict: str
    reply: str
    source: str


@dataclass
class JudgeCounters:
    """What judging cost: calls made, requests answered from the cache, tokens, error verdicts."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0
    error_replies: list[str] = field(default_factory=list)


class Judge:
    """Asks ``backend`` for verdicts with ``prompt``; reads ``cache`` first and stores new verdicts there."""

    def __init__(
        self,
        backend: Backend,
        prompt: JudgePrompt,
        cache: VerdictCache | None = None,
        *,
        max_tokens: int = prompts.JUDGE_MAX_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if max_tokens < 1 or batch_size < 1:
            raise ValueError("max_tokens and batch_size must be at least 1")
        self.backend = backend
        self.prompt = prompt
        self.cache = cache
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.counters = JudgeCounters()

    @property
    def model(self) -> str:
        return self.backend.model

    def key(self, request: JudgeRequest) -> str:
        """The cache key: a hash of the judge model and the exact messages (prompt, gold list, prediction)."""
        messages = self.prompt.messages(request.question, request.gold, request.prediction)
        payload = json.dumps([self.model, self.prompt.name, messages], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def judge(
        self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None
    ) -> list[JudgeOutcome]:
        """One outcome per request; each distinct request is asked at most once and only when not cached.

        ``progress`` is called with the number of requests answered by the judge after each batch.
        """
        keys = [self.key(r) for r in requests]
        known: dict[str, JudgeOutcome] = {}
        missing: dict[str, JudgeRequest] = {}
        for key, request in zip(keys, requests, strict=True):
            if key in known or key in missing:
                continue
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None:
                known[key] = JudgeOutcome(cached.verdict, cached.reply, SOURCE_CACHE)
                self.counters.cache_hits += 1
            else:
                missing[key] = request
        pending = list(missing.items())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            known.update(self._ask(batch))
            if progress is not None:
                progress(len(batch))
        return [known[key] for key in keys]

    def _ask(self, batch: list[tuple[str, JudgeRequest]]) -> dict[str, JudgeOutcome]:
        """Ask about one batch (greedy, ``max_tokens``); parse, count, and cache the valid verdicts."""
        conversations = [self.prompt.messages(r.question, r.gold, r.prediction) for _, r in batch]
        params = SamplingParams(n=1, temperature=0.0, max_tokens=self.max_tokens)
        replies = self.backend.chat(conversations, params)
        outcomes: dict[str, JudgeOutcome] = {}
        for (key, _), completions in zip(batch, replies, strict=True):
            completion = completions[0]
            verdict = self.prompt.parse(completion.text)
            self.counters.calls += 1
            self.counters.prompt_tokens += completion.prompt_tokens or 0
            self.counters.completion_tokens += completion.tokens
            if verdict == VERDICT_ERROR:
                self.counters.errors += 1
                if len(self.counters.error_replies) < ERROR_EXAMPLES_KEPT:
                    self.counters.error_replies.append(completion.text)
            elif self.cache is not None:
                self.cache.put(
                    CachedVerdict(key, verdict, completion.text, self.model, self.prompt.name),
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.tokens,
                )
            outcomes[key] = JudgeOutcome(verdict, completion.text, SOURCE_JUDGE)
        return outcomes


def load_judge(
    model: str,
    *,
    backend: str = "openai",
    prompt: str = "fs1",
    cache_path: str | Path | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    concurrency: int | None = None,
    max_retries: int | None = None,
    tokenizer: str | None = None,
    max_tokens: int = prompts.JUDGE_MAX_TOKENS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Judge:
    """A ``Judge`` on backend ``backend`` (``openai``: any OpenAI-compatible server at ``base_url``;
    ``transformers`` or ``llamacpp``: a local model) with a verdict cache at ``cache_path`` (none if
    ``None``)."""
    from fs1.backends import load_backend

    judge_prompt = get_prompt(prompt)
    remote = {
        "base_url": base_url,
        "api_key_env": api_key_env,
        "concurrency": concurrency,
        "max_retries": max_retries,
        "tokenizer": tokenizer,
    }
    options = {name: value for name, value in remote.items() if value is not None}
    if options and backend != "openai":
        raise ValueError(f"{', '.join(options)} apply to the openai backend only (got backend {backend!r})")
    cache = VerdictCache(cache_path) if cache_path is not None else None
    return Judge(load_backend(backend, model, **options), judge_prompt, cache, max_tokens=max_tokens,
                 batch_size=batch_size)  # fmt: skip
