"""Configuration dataclasses shared by stages: sampling defaults per model family (docs/protocol.md §5)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Sampling(BaseModel):
    """Sampling parameters, with vLLM/OpenAI names."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.7, ge=0, description="Softmax temperature; 0 = greedy.")
    top_p: float = Field(0.8, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(20, description="Top-k cut; -1 or 0 = off.")
    repetition_penalty: float = Field(1.05, gt=0, description="Multiplicative repetition penalty (1 = off).")
    max_tokens: int = Field(8000, gt=0, description="Cap on new tokens per sample.")


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
