"""One sampling model (``fs1.config.Sampling``), one preset table, and each stage's default preset."""

from __future__ import annotations

import pytest

from fs1.backends.base import SamplingParams
from fs1.config import PRESETS, SAMPLING_FIELDS, Sampling
from fs1.distill.config import DistillConfig
from fs1.errors import ConfigError
from fs1.generate.predictions import GenerateConfig, GenerationSettings
from fs1.judge.config import JudgeSampling
from fs1.judge.judge import PROMPTS, Judge
from fs1.run.config import GenerationSpec, TeacherSpec


def test_every_preset_is_complete_and_every_stage_samples_with_the_one_model() -> None:
    assert all(preset.is_resolved() for preset in PRESETS.values())
    for stage in (
        GenerationSettings,
        GenerationSpec,
        GenerateConfig,
        DistillConfig,
        TeacherSpec,
        JudgeSampling,
    ):
        assert issubclass(stage, Sampling)
        assert all(stage.model_fields[name].default is None for name in SAMPLING_FIELDS), stage


def test_resolve_fills_only_what_is_unset_and_keeps_the_other_settings() -> None:
    mine = GenerationSettings(n=4, top_k=5)
    resolved = mine.resolve("reasoning")
    assert (resolved.temperature, resolved.top_p, resolved.top_k) == (0.6, 0.95, 5)
    assert resolved.n == 4 and isinstance(resolved, GenerationSettings)
    assert mine.top_p is None  # resolving returns a copy
    assert Sampling().resolve(PRESETS["greedy"]) == PRESETS["greedy"]
    with pytest.raises(ConfigError, match="unknown sampling preset 'nope'; choose one of instruct"):
        Sampling().resolve("nope")
    with pytest.raises(ValueError, match="not resolved against a preset"):
        SamplingParams.of(Sampling(temperature=0.5))


def test_each_stage_keeps_its_own_default_preset() -> None:
    def values(params: SamplingParams) -> tuple[float, float, int, float, int]:
        return params.temperature, params.top_p, params.top_k, params.repetition_penalty, params.max_tokens

    def preset(name: str) -> tuple[float, float, int, float, int]:
        return values(SamplingParams.of(PRESETS[name]))

    assert values(GenerateConfig(setting="cot").sampling_params()) == preset("instruct")
    assert values(GenerateConfig(setting="abstain").sampling_params()) == preset("instruct")
    assert values(GenerateConfig(setting="reasoning", n=2).sampling_params()) == preset("reasoning")
    assert values(GenerateConfig(setting="reasoning", budgets=[64]).sampling_params()) == preset("greedy")
    assert values(DistillConfig().sampling_params(seed=3)) == preset("teacher") == (0.6, 0.95, -1, 1.0, 8192)
    for prompt, name in (
        ("fs1", "judge-fs1"),
        ("fs1-clean", "judge-fs1-clean"),
        ("simpleqa", "judge-simpleqa"),
    ):
        judge = Judge(backend=None, prompt=PROMPTS[prompt])  # type: ignore[arg-type]
        assert values(judge.sampling.params()) == preset(name)
