"""Configuration shared by stages: sampling defaults per model family (docs/protocol.md §5), and the ``fs1 score``
schema (here, not in ``scoring/``, so that the CLI binds it without importing the scorer)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from fs1.vocab import DEFAULT_KS, ExtractMode

# Each sampling setting's type and bounds, declared once: every stage's sampling fields (generation, the teacher, the
# judge) are these types; each stage gives its own default and wording, as its defaults differ by design.
Temperature = Annotated[float, Field(ge=0)]
TopP = Annotated[float, Field(gt=0, le=1)]
RepetitionPenalty = Annotated[float, Field(gt=0)]
MaxTokens = Annotated[int, Field(gt=0)]


class Sampling(BaseModel):
    """Sampling parameters, with vLLM/OpenAI names."""

    model_config = ConfigDict(extra="forbid")

    temperature: Temperature = Field(0.7, description="Softmax temperature; 0 = greedy.")
    top_p: TopP = Field(0.8, description="Nucleus sampling mass.")
    top_k: int = Field(20, description="Top-k cut; -1 or 0 = off.")
    repetition_penalty: RepetitionPenalty = Field(
        1.05, description="Multiplicative repetition penalty (1 = off)."
    )
    max_tokens: MaxTokens = Field(8000, description="Cap on new tokens per sample.")


# Paper defaults (docs/protocol.md §5): instruct models vs reasoning / rt- / fs1-tuned models; budget forcing is greedy.
SAMPLING_INSTRUCT = Sampling(temperature=0.7, top_p=0.8, top_k=20)
SAMPLING_REASONING = Sampling(temperature=0.6, top_p=0.95, top_k=40)
SAMPLING_GREEDY = Sampling(temperature=0.0, top_p=1.0, top_k=-1)


def default_sampling(setting: str, *, greedy: bool = False) -> Sampling:
    """Paper sampling defaults for a setting: ``instruct``/``cot`` (and the ``abstain`` prompt variant of instruct)
    vs reasoning-tuned (``reasoning``, ``rt``, ``fs1``)."""
    if greedy:
        return SAMPLING_GREEDY.model_copy()
    if setting in ("instruct", "cot", "abstain"):
        return SAMPLING_INSTRUCT.model_copy()
    return SAMPLING_REASONING.model_copy()


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
