"""Each stage's settings are declared once: every field of a stage schema is a CLI option of its command and a key
of its experiment-file section, with the same default. Differences are declared here, each with its reason."""

from __future__ import annotations

from typing import Any

import click
import pytest
import typer
from pydantic import ValidationError

import fs1.cli.main  # noqa: F401  (registers every command and its schema binding)
from fs1.authors.config import ImportConfig
from fs1.cli.app import app
from fs1.cli.schema import BOUND
from fs1.config import ScoreConfig
from fs1.distill.config import DistillConfig
from fs1.generate.predictions import GenerateConfig, GenerationSettings
from fs1.judge.config import JudgeConfig, JudgeSampling, JudgeSettings
from fs1.kg.settings import EndpointOptions, SearchSettings
from fs1.run.config import Experiment, GenerationSpec, JudgeSpec, TeacherSpec, TrainSpec
from fs1.train.config import SftConfig, TrainConfig

# Schema → (experiment section, its class, fields the run decides itself, fields whose default differs on purpose).
SECTIONS: dict[type, tuple[str, type, set[str], dict[str, Any]]] = {
    # the run distils both modes its settings need; seeds derive from the experiment's top-level `seed`
    DistillConfig: ("teacher", TeacherSpec, {"mode", "seed"}, {}),
    # the run's students name the models (a student's reference), each run its setting and label
    GenerateConfig: (
        "generation",
        GenerationSpec,
        {"model", "backend", "base_url", "tokenizer", "options", "label", "setting", "seed"},
        {"n": 16},
    ),  # paper's n: pass@16
    TrainConfig: (
        "train",
        TrainSpec,
        set(TrainConfig.model_fields) - set(SftConfig.model_fields) | {"seed"},
        {},
    ),
    SearchSettings: ("paths", SearchSettings, set(), {}),
    EndpointOptions: ("endpoint", EndpointOptions, set(), {}),
    # The run judges with its own k list (`ks`) and extraction rule (top-level `extract`, which its scoring uses too);
    # its judge runs locally by default, as its students do.
    JudgeConfig: ("judge", JudgeSpec, {"k", "extract"}, {"backend": "transformers"}),
}
STUDENTS = [{"name": "s", "model": "m"}]
# Keys a section cannot go without, added to each one-key section the tests write.
REQUIRED = {"judge": {"model": "j"}}
# `fs1 score` has no section: the run scores with its own k list and seed, by one process per core.
NO_SECTION = {
    ScoreConfig: "the run sets k (ks), the seed (generation.seed), the workers and the extraction (extract)",
    # `fs1 import` reads files a run never makes (the authors'); an experiment has nothing to import.
    ImportConfig: "a command of its own, outside `fs1 run`",
}


def _commands() -> dict[str, click.Command]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def _cli_default(value: Any) -> Any:
    if isinstance(value, dict):  # a mapping is a repeated KEY=VALUE option, empty by default
        return value or None
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else value


def test_every_stage_schema_is_bound_to_its_command() -> None:
    bound = {b.model for b in BOUND}
    assert {DistillConfig, GenerateConfig, TrainConfig, SearchSettings, ScoreConfig, JudgeConfig} <= bound
    assert set(SECTIONS) | set(NO_SECTION) == bound
    assert issubclass(GenerateConfig, GenerationSettings) and issubclass(GenerationSpec, GenerationSettings)


@pytest.mark.parametrize("binding", BOUND, ids=lambda b: b.command)
def test_every_schema_field_is_an_option_with_the_fields_default(binding: Any) -> None:
    command = next(c for c in _commands().values() if c.callback and c.callback.__name__ == binding.command)
    options = {opt: p for p in command.params for opt in p.opts}
    for name, info in binding.model.model_fields.items():
        if name not in binding.options:
            continue  # excluded from the command on purpose (a dict passed through, a Python-only knob)
        param = options.get(binding.options[name])
        assert param is not None, f"{binding.command}: no option {binding.options[name]}"
        if info.is_required():
            assert param.required, name
        else:
            assert param.default == _cli_default(info.get_default(call_default_factory=True)), name
        assert (info.description or "") in (param.help or ""), name


@pytest.mark.parametrize("schema", list(SECTIONS), ids=lambda s: s.__name__)
def test_every_schema_field_is_a_yaml_key_with_the_same_default(schema: type) -> None:
    section, spec, run_owned, differs = SECTIONS[schema]
    required = REQUIRED.get(section, {})
    for name, info in schema.model_fields.items():
        if name in run_owned:  # the run sets it: the experiment file refuses the key rather than ignore it
            value = info.get_default(call_default_factory=True)
            with pytest.raises(ValidationError):
                Experiment.model_validate({"students": STUDENTS, section: {**required, name: value}})
            continue
        assert name in spec.model_fields, f"{section}: no key {name}"
        if info.is_required():
            assert spec.model_fields[name].is_required(), f"{section}.{name}"
            expected = required[name]
        else:
            expected = differs.get(name, info.get_default(call_default_factory=True))
            assert spec.model_fields[name].get_default(call_default_factory=True) == expected, (
                f"{section}.{name}"
            )
        # The key is accepted in an experiment file, and means the field.
        exp = Experiment.model_validate({"students": STUDENTS, section: {**required, name: expected}})
        assert getattr(getattr(exp, section), name) == expected


def test_old_names_still_read_the_same_field() -> None:
    exp = Experiment.model_validate(
        {"students": STUDENTS, "train": {"lr": 2e-5, "epochs": 1, "batch_size": 2, "grad_accum": 4}}
    )
    assert exp.train.learning_rate == 2e-5 and exp.train.num_train_epochs == 1
    assert exp.train.per_device_train_batch_size == 2 and exp.train.effective_batch == 8
    assert DistillConfig(teacher="t").model == "t"
    assert Experiment.model_validate({"students": STUDENTS, "max_hops": 2}).paths.max_hops == 2
    assert TrainConfig(data="d", out="o", lora=True, merge_lora=True).use_peft


def test_the_teacher_max_tokens_no_longer_drifts() -> None:
    # fs1 run used 1024 and fs1 distill 8192: one field now.
    assert TeacherSpec().resolved().max_tokens == DistillConfig().resolved().max_tokens == 8192


def test_judge_settings_read_the_same_under_old_names() -> None:
    # Earlier experiment files nested the sampling; earlier commands spelt --judge, --judge-samples, --judge-seed.
    old = Experiment.model_validate(
        {"students": STUDENTS, "judge": {"model": "j", "backend": "openai", "backend_options": {"timeout": 5},
                                         "sampling": {"samples": 3}}}
    )  # fmt: skip
    assert old.judge is not None and old.judge.samples == 3 and old.judge.options == {"timeout": 5}
    assert old.judge.sampling_only() == JudgeSampling(samples=3)
    assert JudgeConfig(judge="j", judge_samples=3, judge_seed=7).sampling_only() == JudgeSampling(
        samples=3, seed=7
    )
    with pytest.raises(ValidationError, match="samples given both"):
        Experiment.model_validate(
            {"students": STUDENTS, "judge": {"model": "j", "samples": 2, "sampling": {"samples": 3}}}
        )


def test_a_local_judge_refuses_server_settings() -> None:
    with pytest.raises(
        ValidationError, match=r"base_url applies to a remote backend \(openai\), not 'llamacpp'"
    ):
        JudgeSettings(model="j", backend="llamacpp", base_url="http://x/v1")
    with pytest.raises(ValidationError, match=r"concurrency applies to a remote backend"):
        JudgeSettings(model="j", backend="transformers", concurrency=2)
    ref = JudgeSettings(model="j", base_url="http://x/v1", max_retries=1, options={"timeout": 5}).judge_ref()
    assert (ref.base_url, ref.options) == ("http://x/v1", {"max_retries": 1, "timeout": 5})


def test_the_judge_fingerprint_keeps_the_shape_earlier_runs_recorded() -> None:
    # A run judged before the schema recorded name, model, backend, base_url, tokenizer, prompt, mode and the
    # nested sampling: the same settings must give the same fingerprint, so those judge stages stay up to date.
    spec = JudgeSpec(model="j")
    assert spec.fingerprint() == {
        "name": "judge", "model": "j", "backend": "transformers", "base_url": None, "tokenizer": None,
        "prompt": "fs1", "mode": "cascade", "sampling": JudgeSampling().model_dump(),
    }  # fmt: skip
    assert JudgeSpec(model="j", rules="exact").fingerprint()["rules"] == ["exact"]
    how = JudgeSpec(model="j", backend="openai", concurrency=2, max_retries=9, batch_size=4)
    assert how.fingerprint() == JudgeSpec(model="j", backend="openai").fingerprint()
