"""Configuration shared by stages: the one sampling model and its presets (docs/protocol.md §5), and the ``fs1 score``
schema (here, not in ``scoring/``, so that the CLI binds it without importing the scorer)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field

from fs1.errors import ConfigError
from fs1.vocab import DEFAULT_KS, ExtractMode

# Each sampling setting's type and bounds, declared once (``Sampling``); every stage's sampling fields are these.
Temperature = Annotated[float, Field(ge=0)]
TopP = Annotated[float, Field(gt=0, le=1)]
RepetitionPenalty = Annotated[float, Field(gt=0)]
MaxTokens = Annotated[int, Field(gt=0)]

# The authors' repetition penalty, in every generation and judge call of their scripts (docs/protocol.md §4, §5).
AUTHORS_REPETITION_PENALTY = 1.05

SAMPLING_FIELDS: tuple[str, ...] = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens")


class Sampling(BaseModel):
    """How a model samples, with vLLM/OpenAI names; every field optional. An unset field (``None``) takes the value
    of the stage's preset (``resolve``): generation ``instruct``/``reasoning``/``greedy`` by setting, the teacher
    ``teacher``, the judge its prompt's preset. Stages subclass it, so the fields are declared here only."""

    model_config = ConfigDict(extra="forbid")

    temperature: Temperature | None = Field(
        None, description="Softmax temperature; 0 = greedy. Unset: the preset's."
    )
    top_p: TopP | None = Field(None, description="Nucleus sampling mass. Unset: the preset's.")
    top_k: int | None = Field(None, description="Top-k cut; -1 = off. Unset: the preset's.")
    repetition_penalty: RepetitionPenalty | None = Field(
        None, description="Multiplicative repetition penalty; 1 = off. Unset: the preset's."
    )
    max_tokens: MaxTokens | None = Field(
        None, description="Cap on new tokens per reply. Unset: the preset's."
    )

    def sampling_only(self) -> Sampling:
        """The sampling fields alone (a stage's settings carry more)."""
        return Sampling(**{name: getattr(self, name) for name in SAMPLING_FIELDS})

    def resolve(self, preset: str | Sampling) -> Self:
        """These settings with every unset sampling field taken from ``preset`` (a name in ``PRESETS``, or one)."""
        base = preset_named(preset) if isinstance(preset, str) else preset
        unset = {name: getattr(base, name) for name in SAMPLING_FIELDS if getattr(self, name) is None}
        return self.model_copy(update=unset)

    def is_resolved(self) -> bool:
        return all(getattr(self, name) is not None for name in SAMPLING_FIELDS)


# The presets, each complete; a stage picks its default preset on purpose (docs/protocol.md §5, §4).
PRESETS: dict[str, Sampling] = {
    # Paper (§5): instruct models; reasoning and rt/fs1-tuned models; budget forcing decodes greedily.
    "instruct": Sampling(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, max_tokens=8000),
    "reasoning": Sampling(temperature=0.6, top_p=0.95, top_k=40, repetition_penalty=1.05, max_tokens=8000),
    "greedy": Sampling(temperature=0.0, top_p=1.0, top_k=-1, repetition_penalty=1.05, max_tokens=8000),
    # The teacher (DeepSeek-R1's advice: T 0.6, top-p 0.95); hosted APIs take no top-k nor repetition penalty.
    "teacher": Sampling(temperature=0.6, top_p=0.95, top_k=-1, repetition_penalty=1.0, max_tokens=8192),
    # The paper's containment judge (§4) as the authors sampled it: T 0.6, top-p 0.9, top-k 20, their repetition
    # penalty, at most 5 reply tokens; the clean call sends no penalty (it only bends a 1-token reply).
    "judge-fs1": Sampling(
        temperature=0.6, top_p=0.9, top_k=20, repetition_penalty=AUTHORS_REPETITION_PENALTY, max_tokens=5
    ),
    "judge-fs1-clean": Sampling(temperature=0.6, top_p=0.9, top_k=20, repetition_penalty=1.0, max_tokens=5),
    # The SimpleQA-style grader: greedy, at most 5 reply tokens.
    "judge-simpleqa": Sampling(temperature=0.0, top_p=1.0, top_k=-1, repetition_penalty=1.0, max_tokens=5),
}


def preset_named(name: str) -> Sampling:
    """The preset called ``name``; a ``ConfigError`` naming the presets for any other name."""
    if name not in PRESETS:
        raise ConfigError(f"unknown sampling preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


class ScoreConfig(BaseModel):
    """The settings of ``fs1 score`` (rule-based scoring); inputs and outputs are the command's own."""

    model_config = ConfigDict(extra="forbid")

    k: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: list(DEFAULT_KS),
        description="Comma-separated k for pass@k and maj@k; k above the samples per question are left out.",
    )
    workers: int = Field(
        0,
        ge=0,
        description="Processes to score with, each reading its own part of the file (same outputs); 0: one per core.",
    )
    seed: int = Field(0, description="Seed of the bootstrap intervals (use the run's seed).")
    extract: ExtractMode = Field(
        "fs1",
        description="Answer extraction: fs1 (last box of the text after the thinking) or authors (the paper's: "
        "first box anywhere, else the text after the answer marker, else the last 10 tokens).",
    )
    require_complete: bool = Field(
        False,
        description="Fail (nothing written) when a benchmark question has no prediction; without it such questions "
        "are counted and named in summary.json (questions_without_predictions) and the numbers cover the others.",
    )
