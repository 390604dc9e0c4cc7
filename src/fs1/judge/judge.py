"""The LLM judge: judge prompts, strict verdict parsing, and a ``Judge`` that asks a backend, cache first.

Three prompt presets (texts in ``fs1.prompts``):

- ``fs1`` (the default): the paper's containment judge exactly as the authors' code asked it (docs/protocol.md §4):
  the system message their chat script sends with every conversation (``You are Qwen, created by Alibaba Cloud.
  You are a helpful assistant.``, sent to the Llama judge too), then one user turn: ``gold answer: `` + the gold list
  (main answers + aliases as the benchmark gives them) as a JSON array, ``predicted answer: `` + the prediction as a
  JSON string, both written as ``json.dumps`` writes them by default (non-ASCII escaped), an empty line, the 0/1
  question; sampled at temperature 0.6, top-p 0.9, top-k 20, repetition penalty 1.05, at most 5 tokens.
- ``fs1-clean``: the same user turn without the stray system message (which names another model family than the
  judge) and without repetition penalty, the gold list without duplicates and the JSON with non-ASCII kept: the cleaner
  call, not the published one.
- ``simpleqa``: a SimpleQA-style grader with three grades, CORRECT / INCORRECT / NOT_ATTEMPTED (also sees the
  question); greedy, at most 5 tokens.

A prompt preset names its sampling preset (``fs1.config.PRESETS``, where every preset is declared); a user may
override any field, and ask ``samples`` replies per request, of which the majority verdict counts (ties go to the
earliest sample's verdict, so ``samples=1`` is the paper's judge). Each request is sent with the judge ``seed``.

Parsing is strict: the whole reply, once surrounding white space, quotes, Markdown emphasis and one final full
stop are stripped, must be one of the prompt's reply tokens. Anything else is an ``error`` verdict — counted
and reported by the stage, never read as "incorrect" — and is not cached, so a later run asks again.

The ``Judge`` asks only what its cache (``cache.VerdictCache``) does not already hold, and asks each
distinct request once: the cache key covers the judge model, the preset, the exact messages (system message, gold
list, predicted answer) and the resolved sampling (temperature, top-p, top-k, repetition penalty, max tokens, seed,
samples), so verdicts drawn under different judge settings never answer for each other.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from fs1 import prompts
from fs1.backends.base import Backend
from fs1.backends.ref import ModelRef
from fs1.errors import ConfigError
from fs1.judge.cache import CachedVerdict, VerdictCache
from fs1.judge.config import DEFAULT_BATCH_SIZE, JudgeSampling, JudgeSettings
from fs1.records import Question
from fs1.stage import not_described

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

# Why a judge records no one engine: nothing was asked of a judge, or its verdicts came from several engines (or from
# cache lines written before the cache kept engines).
NO_JUDGE_CALL = "no judge call: every answer was decided without a judge (rules, no answer)"
MIXED_ENGINES = (
    "the verdicts came from more than one engine, or from cache lines that name none (written before fs1 kept "
    "engines in the cache): the engines known are listed"
)
ERROR_EXAMPLES_KEPT = 20  # unparseable replies kept for the report (the count is always exact)
# Characters stripped around a reply before it is compared with the prompt's reply tokens.
_REPLY_WRAPPING = " \t\r\n\"'`*"


@dataclass(frozen=True)
class JudgePrompt:
    """One judge preset: its messages, the replies it accepts (upper-cased token -> verdict) and its sampling
    preset (a name in ``fs1.config.PRESETS``).

    ``verbatim``: the authors' serialisation: the gold list as given (duplicates kept) and ``json.dumps`` with its
    defaults (non-ASCII as ``\\u`` escapes), as their ``prepare_llm_as_a_judge.py`` wrote it. Otherwise the gold list
    loses its duplicates and non-ASCII text is sent as it is.
    """

    name: str
    system: str | None  # None: one user turn only
    user: str
    replies: Mapping[str, str]
    sampling: str
    verbatim: bool = False

    def messages(self, question: str, gold: Sequence[str], prediction: str) -> list[dict[str, str]]:
        """The chat messages about one predicted answer (gold and prediction as JSON, as in the paper)."""
        golds = list(gold) if self.verbatim else list(dict.fromkeys(gold))
        ascii_only = self.verbatim
        user = self.user.format(
            question=question.strip(),
            gold=json.dumps(golds, ensure_ascii=ascii_only),
            prediction=json.dumps(prediction, ensure_ascii=ascii_only),
        )
        system = [] if self.system is None else [{"role": "system", "content": self.system}]
        return [*system, {"role": "user", "content": user}]

    def parse(self, reply: str) -> str:
        """The verdict a reply states, or ``error`` when the reply is anything but one accepted token."""
        token = reply.strip(_REPLY_WRAPPING)
        if token.endswith("."):
            token = token[:-1].strip(_REPLY_WRAPPING)
        return self.replies.get(token.upper(), VERDICT_ERROR)


def _replies(**groups: Sequence[str]) -> dict[str, str]:
    return {token: verdict for verdict, tokens in groups.items() for token in tokens}


_FS1_REPLIES = _replies(correct=(prompts.JUDGE_FS1_CORRECT,), incorrect=(prompts.JUDGE_FS1_INCORRECT,))
PROMPTS: dict[str, JudgePrompt] = {
    "fs1": JudgePrompt(
        "fs1",
        prompts.AUTHORS_SYSTEM_PROMPT,
        prompts.JUDGE_FS1_USER,
        _FS1_REPLIES,
        "judge-fs1",
        verbatim=True,
    ),
    "fs1-clean": JudgePrompt("fs1-clean", None, prompts.JUDGE_FS1_USER, _FS1_REPLIES, "judge-fs1-clean"),
    "simpleqa": JudgePrompt(
        "simpleqa",
        prompts.JUDGE_SIMPLEQA_SYSTEM,
        prompts.JUDGE_SIMPLEQA_USER,
        _replies(
            correct=prompts.JUDGE_SIMPLEQA_CORRECT,
            incorrect=prompts.JUDGE_SIMPLEQA_INCORRECT,
            not_attempted=prompts.JUDGE_SIMPLEQA_NOT_ATTEMPTED,
        ),
        "judge-simpleqa",
    ),
}


def prompt_verdicts() -> dict[str, frozenset[str]]:
    """The verdicts each prompt preset can give (what a cache line may hold)."""
    return {name: frozenset(prompt.replies.values()) for name, prompt in PROMPTS.items()}


def get_prompt(name: str) -> JudgePrompt:
    """The judge prompt called ``name`` (``fs1``, ``fs1-clean`` or ``simpleqa``); ``ConfigError`` for any other."""
    if name not in PROMPTS:
        raise ConfigError(f"unknown judge prompt {name!r}; choose one of {', '.join(PROMPTS)}")
    return PROMPTS[name]


@dataclass(frozen=True)
class JudgeRequest:
    """What the judge is asked about: a question, its gold answers (main + aliases) and a predicted answer."""

    question: str
    gold: tuple[str, ...]
    prediction: str

    @classmethod
    def about(cls, question: Question, prediction: str) -> JudgeRequest:
        """The request about ``prediction`` to ``question``, its gold as the benchmark lists it: main answers, then
        aliases, duplicates kept (the ``fs1`` preset shows that list; the others drop the duplicates)."""
        return cls(question.question, (*question.main_answers, *question.answer_aliases), prediction)


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
    """Asks ``backend`` for verdicts with ``prompt``; reads ``cache`` first and stores new verdicts there.

    ``backend`` may be a function that opens it (``load_judge``'s way): it is called at the first request the cache
    does not answer, so a run whose verdicts all come from the cache or the rules starts no engine (a local vLLM
    judge) and needs no server; ``model`` names the judge until then. ``engine``: the backend's own description
    (``Backend.describe``), read once before the first request, ``None`` while no request was sent.
    ``sampling`` overrides the preset's sampling field by field (``None``: the preset's as it is).
    """

    def __init__(
        self,
        backend: Backend | Callable[[], Backend],
        prompt: JudgePrompt,
        cache: VerdictCache | None = None,
        *,
        sampling: JudgeSampling | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        model: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        opener = backend if callable(backend) and not isinstance(backend, Backend) else None
        self._backend: Backend | None = None if opener is not None else cast(Backend, backend)
        self._open = opener
        self._model = model
        self.prompt = prompt
        self.cache = cache
        self.sampling = (sampling or JudgeSampling()).resolve(prompt.sampling)
        self.batch_size = batch_size
        self.counters = JudgeCounters()
        self.engine: dict[str, Any] | None = None
        self.cached_from: set[str | None] = set()  # the engine ids of the verdicts the cache answered

    @property
    def backend(self) -> Backend:
        """The judge's backend, opened at first use."""
        if self._backend is None and self._open is not None:
            self._backend = self._open()
        return cast(Backend, self._backend)

    @property
    def model(self) -> str:
        if self._backend is None and self._model is not None:
            return self._model
        return self.backend.model

    def engine_entry(self) -> dict[str, Any]:
        """What the judged summary and the manifests record as the engine of this run's verdicts: the one engine
        they all came from (asked now, or named by the cache lines that answered), else why it is not one."""
        known = self.cache.engines if self.cache is not None else {}
        engines = [known.get(i) if i is not None else None for i in self.cached_from]
        if self.engine is not None:
            engines.append(self.engine)
        distinct = [e for n, e in enumerate(engines) if e is not None and e not in engines[:n]]
        if len(distinct) == 1 and None not in engines:
            return distinct[0]
        if not engines:
            return not_described(NO_JUDGE_CALL)
        return {**not_described(MIXED_ENGINES), "engines": distinct}

    def settings(self) -> dict[str, Any]:
        """What decides a verdict besides the request: model, prompt preset, its system message and resolved
        sampling (recorded in the judged summary, hashed into every cache key)."""
        return {
            "model": self.model,
            "prompt": self.prompt.name,
            "system": self.prompt.system,
            "sampling": self.sampling.model_dump(),
        }

    def key(self, request: JudgeRequest) -> str:
        """The cache key: a hash of the judge settings and the exact messages (prompt, gold list, prediction)."""
        messages = self.prompt.messages(request.question, request.gold, request.prediction)
        payload = json.dumps([self.settings(), messages], ensure_ascii=False, sort_keys=True)
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
                self.cached_from.add(cached.engine)
            else:
                missing[key] = request
        pending = list(missing.items())
        if pending and self.engine is None:  # before the first request: the engine the verdicts come from
            self.engine = self.backend.describe()
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            known.update(self._ask(batch))
            if progress is not None:
                progress(len(batch))
        return [known[key] for key in keys]

    def _ask(self, batch: list[tuple[str, JudgeRequest]]) -> dict[str, JudgeOutcome]:
        """Ask about one batch (``samples`` replies each); take the majority, count, cache valid verdicts."""
        conversations = [self.prompt.messages(r.question, r.gold, r.prediction) for _, r in batch]
        # Every request gets the judge seed (sample i: seed + i) whatever its place in the batch, so a verdict
        # depends on the request and the settings only, on every backend, and a resumed run asks the same.
        replies = self.backend.chat(conversations, self.sampling.params(), [self.sampling.seed] * len(batch))
        outcomes: dict[str, JudgeOutcome] = {}
        for (key, _), completions in zip(batch, replies, strict=True):
            verdicts = [self.prompt.parse(c.text) for c in completions]
            verdict, reply = majority(verdicts, [c.text for c in completions])
            prompt_tokens = sum(c.prompt_tokens or 0 for c in completions)
            completion_tokens = sum(c.tokens for c in completions)
            self.counters.calls += 1
            self.counters.prompt_tokens += prompt_tokens
            self.counters.completion_tokens += completion_tokens
            if verdict == VERDICT_ERROR:
                self.counters.errors += 1
                if len(self.counters.error_replies) < ERROR_EXAMPLES_KEPT:
                    self.counters.error_replies.append(reply)
            elif self.cache is not None:
                self.cache.put(
                    CachedVerdict(key, verdict, reply, self.model, self.prompt.name),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    votes=dict(Counter(verdicts)) if len(verdicts) > 1 else None,
                    engine=self.engine,
                )
            outcomes[key] = JudgeOutcome(verdict, reply, SOURCE_JUDGE)
        return outcomes


def majority(verdicts: Sequence[str], replies: Sequence[str]) -> tuple[str, str]:
    """The verdict most replies state (unparseable ones do not vote) and the first reply stating it.

    A tie goes to the verdict of the earliest sample among the tied ones, so one sample is the paper's judge;
    no valid vote at all is an ``error`` (with the first reply, for the report).
    """
    votes = Counter(v for v in verdicts if v != VERDICT_ERROR)
    if not votes:
        return VERDICT_ERROR, replies[0] if replies else ""
    top = max(votes.values())
    first = next(i for i, v in enumerate(verdicts) if votes.get(v) == top)
    return verdicts[first], replies[first]


def load_judge(
    judge: ModelRef | str,
    *,
    prompt: str = "fs1",
    cache_path: str | Path | None = None,
    sampling: JudgeSampling | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **server: Any,
) -> Judge:
    """A ``Judge`` on the model ``judge`` references with a verdict cache at ``cache_path`` (none if ``None``) and
    ``sampling`` over the preset's. A model name instead of a reference takes the ``fs1 judge`` defaults (the
    openai backend) and ``server`` settings as ``JudgeSettings`` fields (backend, base_url, api_key_env, ...)."""
    from fs1.backends import load_backend

    judge_prompt = get_prompt(prompt)
    ref = judge if isinstance(judge, ModelRef) else JudgeSettings(model=judge, **server).judge_ref()
    cache = VerdictCache(cache_path) if cache_path is not None else None

    def open_backend() -> Backend:
        return load_backend(ref)

    return Judge(open_backend, judge_prompt, cache, sampling=sampling, batch_size=batch_size, model=ref.model)
