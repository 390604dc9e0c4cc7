"""Questions → prompts → test-time scaling → Prediction records (the `fs1 generate` stage), resumable.

Prompts follow the protocol (§3, §5): the model's chat template over the question + the boxed-answer instruction
(``cot`` adds "Think step-by-step."); ``reasoning`` opens the assistant turn with the s1 think marker and runs budget
forcing (capped by ``max_tokens`` when no budget is given). Each (question, sample) gets a seed derived from the run
seed, the question ID and the sample index (``fs1.seeding``), so a resumed run draws exactly what the first run would have.
Records are appended one by one (``JsonlAppender``); ``resume`` skips completed ``(id, sample, budget)`` keys.

Two routes, recorded in ``Prediction.route``: ``raw`` renders the chat template here and completes the raw text (every
local backend; a server whose template is known), ``chat`` sends the same user turn to a server's chat endpoint,
which applies its own template (``instruct``/``cot`` on servers that publish no template, hosted APIs). ``reasoning``
continues a half-written thinking block and so needs ``raw``. A resumed file is never continued on the other route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, ConfigDict, Field, model_validator

from fs1.backends.base import FINISH_CONTEXT, Backend, BackendError, Completion, SamplingParams
from fs1.backends.ref import ENDPOINT_FIELDS, BackendChoice, ModelRef, role_backend
from fs1.config import SAMPLING_FIELDS, Sampling
from fs1.data.common import check_unique_ids
from fs1.errors import ConfigError
from fs1.generate.budget import BudgetConfig, budget_forcing
from fs1.generate.parallel import ScaledOutput, parallel_sample
from fs1.io import InputError, JsonlAppender, check_resume_config, completed_keys
from fs1.prompts import (
    ANSWER_MAX_TOKENS,
    AUTHORS_SYSTEM_PROMPT,
    THINK_CLOSE_TAG,
    THINK_OPEN_TAG,
    THINK_START,
    eval_user_prompt,
)
from fs1.records import Prediction, Question
from fs1.seeding import DEFAULT_SEED, derive_seed
from fs1.vocab import EMBEDDED_NAME, PromptSetting

Key = tuple[str, int, int | None]
ROUTE_RAW = "raw"  # chat template applied here, raw text completed (and continued, for budget forcing)
ROUTE_CHAT = "chat"  # the server's chat endpoint applies its own template; no continuation possible


class GenerationSettings(Sampling):
    """How to generate, whatever the model: samples, budgets and sampling (unset = the setting's paper preset,
    ``generation_preset``). ``fs1 generate`` takes these with a model and a setting (``GenerateConfig``); an
    experiment file's ``generation`` section is these for every model of the run."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(1, ge=1, description="Samples per question (parallel sampling).")
    budgets: list[Annotated[int, Field(gt=0)]] | None = Field(
        None, description="Thinking budgets (tokens); several = a sweep in one run."
    )
    min_think_tokens: int | None = Field(
        None, ge=0, description="Cut early ends of thinking until this many."
    )
    answer_max_tokens: int = Field(ANSWER_MAX_TOKENS, gt=0, description="Cap on the forced answer (greedy).")
    seed: int = Field(
        DEFAULT_SEED, description="Run seed; per-sample seeds derive from it, the question ID and the sample."
    )
    batch_sequences: int = Field(
        64,
        ge=1,
        validation_alias=AliasChoices("batch_sequences", "batch"),
        description="Sequences (question × sample) decoded together.",
    )
    continue_sweep: bool = Field(True, description="Continue longer budgets from shorter ones' state.")
    system: str | None = Field(
        None,
        validation_alias=AliasChoices("system", "system_prompt"),
        description="System prompt before every question (None: the chat template's own default, if it has one).",
    )
    # Left out of fingerprints and resume records: what it decides is in the fields it fills (``with_preset``).
    preset: Literal["paper"] | None = Field(
        None,
        description="paper: the authors' generation (their scripts): their Qwen system message for every model and "
        "sampling by model family (QwQ / DeepSeek-R1 distills T 0.6, top-p 0.95, top-k 40; any other model, tuned "
        "students included, T 0.7, top-p 0.8, top-k 20), repetition penalty 1.05, at most 8000 new tokens; fields "
        "given explicitly win. None: fs1's defaults by setting.",
    )

    def with_preset(self, model: str, *, greedy: bool = False) -> Self:
        """These settings with the ``paper`` preset's values in every unset sampling field and the system prompt,
        for ``model`` (its hub id or path decides the family); ``greedy`` (single-sample budget forcing, as the
        authors' s1 runs): the greedy preset instead. Unchanged without a preset."""
        if self.preset != PRESET_PAPER:
            return self
        resolved = self.resolve("greedy" if greedy else paper_family_preset(model))
        system = AUTHORS_SYSTEM_PROMPT if self.system is None else self.system
        return resolved.model_copy(update={"system": system})


PRESET_PAPER = "paper"
# The authors' scripts/4.run_vllm_inference_parallel.sh samples these at T 0.6 / top-p 0.95 / top-k 40 (their
# default branch: QwQ-32B, DeepSeek-R1-Distill-Llama-70B) and Qwen2.5-Instruct, SmolLM2 and every tuned student at
# T 0.7 / top-p 0.8 / top-k 20 (docs/protocol.md §5).
PAPER_REASONING_MODELS = ("qwq", "deepseek-r1")
# Fields no fingerprint or resume record holds: their effect is in the fields they fill.
NOT_RECORDED = frozenset({"preset"})


def paper_family_preset(model: str) -> str:
    """The sampling preset the authors' scripts gave ``model``: ``reasoning`` for QwQ and the DeepSeek-R1 distills,
    ``instruct`` for any other (their Qwen2.5-Instruct, SmolLM2 and rt/fs1-tuned students)."""
    lowered = model.lower()
    return "reasoning" if any(name in lowered for name in PAPER_REASONING_MODELS) else "instruct"


class GenerateConfig(GenerationSettings, ModelRef):
    """What ``fs1 generate`` runs: a model (a ``ModelRef``) in a setting, with the generation settings."""

    model: str = Field(
        EMBEDDED_NAME,
        description="Checkpoint dir, hub id, GGUF, or smollm2-135m; recorded in each prediction.",
    )
    backend: BackendChoice = role_backend(
        "transformers", "a model under evaluation is a Hugging Face checkpoint, as fs1 fine-tunes them"
    )
    label: str | None = Field(
        None,
        description="Name recorded as each prediction's model instead of the model (a run's model × setting).",
    )
    setting: PromptSetting = Field(
        "instruct",
        description="instruct | cot | abstain (answer only when sure) | reasoning (s1 think/answer).",
    )

    @model_validator(mode="after")
    def _check(self) -> GenerateConfig:
        # A run applies the preset before, for the model's real id (this one may be a label): nothing left then.
        if self.preset == PRESET_PAPER:
            filled = self.with_preset(self.model, greedy=self.budgets is not None and self.n == 1)
            for name in (*SAMPLING_FIELDS, "system"):
                setattr(self, name, getattr(filled, name))
        forcing = self.budgets is not None or self.min_think_tokens is not None
        if forcing and self.setting != "reasoning":
            raise ConfigError(
                "budget forcing (--max-think-tokens/--budgets/--min-think-tokens) needs --setting reasoning"
            )
        if self.budgets is not None and (not self.budgets or min(self.budgets) <= 0):
            raise ConfigError(f"budgets must be positive token counts, got {self.budgets}")
        return self

    @property
    def recorded_model(self) -> str:
        """The name each prediction records as its model."""
        return self.label or self.model

    def sampling_params(self) -> SamplingParams:
        """The settings over the setting's preset (greedy for single-sample budget forcing)."""
        preset = generation_preset(self.setting, greedy=self.budgets is not None and self.n == 1)
        return SamplingParams.of(self.resolve(preset))


def generation_preset(setting: str, *, greedy: bool = False) -> str:
    """The paper's sampling preset of a setting (docs/protocol.md §5): ``instruct`` for instruct/cot (and the
    ``abstain`` prompt variant of instruct), ``reasoning`` for the reasoning setting; single-sample budget forcing
    decodes greedily (``greedy``), as s1 does."""
    if greedy:
        return "greedy"
    return "instruct" if setting in ("instruct", "cot", "abstain") else "reasoning"


@dataclass
class GenerateSummary:
    """What a run did: predictions written now, skipped as already complete, sequences generated, and of those
    written, how many ended at the model's context length (a prompt that did not fit: no text); ``engine``: what the
    backend says made them (``Backend.describe``), for the manifest."""

    written: int
    skipped: int
    sequences: int
    context: int = 0
    engine: dict[str, Any] = field(default_factory=dict)


def sample_seed(run_seed: int, question_id: str, sample: int) -> int:
    """The seed of one (question, sample) of a run (``fs1.seeding.derive_seed`` under the ``generate`` stage)."""
    return derive_seed(run_seed, "generate", question_id, sample)


def build_prompt(backend: Backend, question: Question, setting: str, system: str | None = None) -> str:
    """The raw prompt for one question under ``setting`` (chat template applied by the backend)."""
    prompt = backend.chat_prompt(eval_user_prompt(question.question, setting), system=system)
    return prompt + THINK_START if setting == "reasoning" else prompt


def choose_route(backend: Backend, setting: str) -> str:
    """``raw`` where the backend can build and continue raw prompts; else ``chat``, which ``reasoning`` cannot use."""
    problem = backend.raw_prompt_problem()
    if problem is None:
        return ROUTE_RAW
    if setting == "reasoning":
        raise BackendError(f"--setting reasoning continues a thinking block as raw text, but {problem}")
    return ROUTE_CHAT


def chat_messages(question: Question, setting: str, system: str | None = None) -> list[dict[str, str]]:
    """The conversation the chat route sends: the same user turn (and system prompt) as the raw route renders."""
    user = {"role": "user", "content": eval_user_prompt(question.question, setting)}
    return [{"role": "system", "content": system}, user] if system else [user]


def prediction_key(row: dict) -> Key:
    """Resume key of a prediction row."""
    return (str(row["id"]), int(row["sample"]), row.get("budget"))


def resume_config(config: GenerateConfig, backend: Backend) -> dict:
    """What decides a prediction's content, kept beside the output so a resume cannot mix runs.

    ``n`` is left out: samples are seeded by index, so raising ``n`` on resume only adds samples; batch size changes
    nothing either, nor how the backend is reached (its name is recorded).
    """
    settings = config.model_dump(exclude={"n", "batch_sequences", "label", *ENDPOINT_FIELDS, *NOT_RECORDED})
    return {"command": "generate", "backend": backend.name, **settings, "model": config.recorded_model}


def _planned_budgets(config: GenerateConfig) -> list[int | None]:
    planned: list[int | None] = [*sorted(set(config.budgets))] if config.budgets else [None]
    return planned


def _scale(
    backend: Backend,
    prompts: list[str],
    seeds: list[int | None],
    config: GenerateConfig,
    params: SamplingParams,
) -> Iterator[ScaledOutput]:
    if config.setting != "reasoning":
        return parallel_sample(backend, prompts, 1, params, seeds)
    budgets = config.budgets or [params.max_tokens]
    cfg = BudgetConfig(
        budgets=budgets,
        min_think_tokens=config.min_think_tokens,
        answer_max_tokens=config.answer_max_tokens,
        continue_sweep=config.continue_sweep,
    )
    return budget_forcing(backend, prompts, 1, params, cfg, seeds, record_budget=config.budgets is not None)


def _chat_sample(
    backend: Backend, batch: list[tuple[Question, int]], config: GenerateConfig, params: SamplingParams
) -> Iterator[ScaledOutput]:
    """The chat route: one request per question for its samples in ``batch`` (``n`` choices where the server
    honours it), seeded from the question's first sample; choice ``k`` is recorded with that seed in ``meta``."""
    # question ID -> its positions in batch (a question's samples are adjacent)
    groups: dict[str, list[int]] = {}
    for position, (question, _) in enumerate(batch):
        groups.setdefault(question.ID, []).append(position)
    by_size: dict[int, list[list[int]]] = {}
    for positions in groups.values():
        by_size.setdefault(len(positions), []).append(positions)
    for size, members in by_size.items():
        firsts = [batch[positions[0]] for positions in members]
        seeds: list[int | None] = [sample_seed(config.seed, q.ID, sample) for q, sample in firsts]
        conversations = [chat_messages(q, config.setting, config.system) for q, _ in firsts]
        replies = backend.chat(conversations, replace(params, n=size), seeds=seeds)
        for positions, seed, completions in zip(members, seeds, replies, strict=True):
            for choice, (position, completion) in enumerate(zip(positions, completions, strict=True)):
                yield _chat_output(position, batch[position][1], seed, choice, completion)


def _chat_output(position: int, sample: int, seed: int | None, choice: int, out: Completion) -> ScaledOutput:
    # A reasoning field (hosted reasoning models) is kept in think tags, which scoring reads past.
    text = f"{THINK_OPEN_TAG}{out.reasoning}{THINK_CLOSE_TAG}{out.text}" if out.reasoning else out.text
    meta: dict[str, object] = {"choice": choice}
    if out.prompt_tokens is not None:
        meta["prompt_tokens"] = out.prompt_tokens
    return ScaledOutput(
        prompt_index=position, sample=sample, seed=seed, text=text, finish_reason=out.finish_reason,
        answer_tokens=out.tokens, meta=meta,
    )  # fmt: skip


def generate_predictions(
    questions: list[Question],
    backend: Backend,
    config: GenerateConfig,
    out_path: str | Path,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Generate ``config.n`` samples (× budgets) per question and append them to ``out_path`` as Predictions.

    Without ``resume`` an existing non-empty output is an error (appending would duplicate records). ``progress`` is
    called with ``(finished, total)`` counts of the (question, sample) sequences this run generates.
    """
    out_path = Path(out_path)
    check_unique_ids(questions, "the benchmark")  # resume keys are (id, sample, budget)
    if not resume and out_path.exists() and out_path.stat().st_size > 0:
        raise InputError(f"{out_path}: already exists; pass --resume to continue it or choose another --out")
    route = choose_route(backend, config.setting)
    check_resume_config(out_path, resume_config(config, backend), resume=resume)
    done = _resumable(out_path, route) if resume else set()
    budgets = _planned_budgets(config)
    todo = [
        (q, s) for q in questions for s in range(config.n) if any((q.ID, s, b) not in done for b in budgets)
    ]
    skipped = len(questions) * config.n * len(budgets) - sum(
        1 for q, s in todo for b in budgets if (q.ID, s, b) not in done
    )
    params = config.sampling_params()
    written = finished = context = 0
    if progress is not None:
        progress(0, len(todo))
    with JsonlAppender(out_path) as sink:
        for start in range(0, len(todo), config.batch_sequences):
            batch = todo[start : start + config.batch_sequences]
            for out in _outputs(backend, batch, config, params, route):
                question, sample = batch[out.prompt_index]
                if (question.ID, sample, out.budget) in done:
                    continue
                sink.write(_prediction(question, sample, out, config, backend, route))
                done.add((question.ID, sample, out.budget))
                written += 1
                context += out.finish_reason == FINISH_CONTEXT
            finished += len(batch)
            if progress is not None:
                progress(finished, len(todo))
    return GenerateSummary(written=written, skipped=skipped, sequences=len(todo), context=context)


def _outputs(
    backend: Backend,
    batch: list[tuple[Question, int]],
    config: GenerateConfig,
    params: SamplingParams,
    route: str,
) -> Iterator[ScaledOutput]:
    if route == ROUTE_CHAT:
        return _chat_sample(backend, batch, config, params)
    prompts = [build_prompt(backend, q, config.setting, config.system) for q, _ in batch]
    seeds: list[int | None] = [sample_seed(config.seed, q.ID, s) for q, s in batch]
    return _scale(backend, prompts, seeds, config, params)


def _resumable(out_path: Path, route: str) -> set[Key]:
    """Completed keys of ``out_path``; refuses a file whose predictions came through the other route."""
    routes: set[str] = set()

    def key(row: dict) -> Key:
        if row.get("route"):
            routes.add(str(row["route"]))
        return prediction_key(row)

    done = completed_keys(out_path, key)
    if routes - {route}:
        raise InputError(
            f"{out_path}: its predictions came through the {'/'.join(sorted(routes))} route and this run would use "
            f"the {route} route (see Prediction.route); results of the two must not be mixed: choose another --out "
            "or the options of the first run"
        )
    return done


def _prediction(
    question: Question, sample: int, out: ScaledOutput, config: GenerateConfig, backend: Backend, route: str
) -> Prediction:
    return Prediction(
        id=question.ID,
        sample=sample,
        text=out.text,
        model=config.recorded_model,
        setting=config.setting,
        budget=out.budget,
        seed=out.seed,
        think_tokens=out.think_tokens,
        answer_tokens=out.answer_tokens,
        waits=out.waits,
        finish_reason=out.finish_reason,
        route=route,
        meta={"backend": backend.name, **out.meta},
    )
