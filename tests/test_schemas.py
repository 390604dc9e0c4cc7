"""Each stage's settings are declared once: every field of a stage schema is a CLI option of its command and a key
of its experiment-file section, with the same default. Differences are declared here, each with its reason."""

from __future__ import annotations

from typing import Any

import click
import pytest
import typer
from pydantic import ValidationError

import fs1.cli.main  # noqa: F401  (registers every command and its schema binding)
from fs1.cli.app import app
from fs1.cli.schema import BOUND, option_name
from fs1.distill.config import DistillConfig
from fs1.generate.predictions import GenerateConfig, GenerationSettings
from fs1.kg.settings import SearchSettings
from fs1.run.config import Experiment, GenerationSpec, TeacherSpec, TrainSpec
from fs1.train.config import SftConfig, TrainConfig

# Schema → (experiment section, its class, fields the run decides itself, fields whose default differs on purpose).
SECTIONS: dict[type, tuple[str, type, set[str], dict[str, Any]]] = {
    # the run distils both modes its settings need; seeds derive from the experiment's top-level `seed`
    DistillConfig: ("teacher", TeacherSpec, {"mode", "seed"}, {}),
    GenerateConfig: (
        "generation",
        GenerationSpec,
        {"model", "setting", "seed"},
        {"n": 16},
    ),  # paper's n: pass@16
    TrainConfig: (
        "train",
        TrainSpec,
        set(TrainConfig.model_fields) - set(SftConfig.model_fields) | {"seed"},
        {},
    ),
    SearchSettings: ("paths", SearchSettings, set(), {}),
}
STUDENTS = [{"name": "s", "model": "m"}]


def _commands() -> dict[str, click.Command]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def _cli_default(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else value


def test_every_stage_schema_is_bound_to_its_command() -> None:
    bound = {b.model for b in BOUND}
    assert {DistillConfig, GenerateConfig, TrainConfig, SearchSettings} <= bound
    assert issubclass(GenerateConfig, GenerationSettings) and issubclass(GenerationSpec, GenerationSettings)


@pytest.mark.parametrize("binding", BOUND, ids=lambda b: b.command)
def test_every_schema_field_is_an_option_with_the_fields_default(binding: Any) -> None:
    command = next(c for c in _commands().values() if c.callback and c.callback.__name__ == binding.command)
    options = {opt: p for p in command.params for opt in p.opts}
    for name, info in binding.model.model_fields.items():
        if name not in binding.options:
            continue  # excluded from the command on purpose (a dict passed through, a Python-only knob)
        param = options.get(option_name(name))
        assert param is not None, f"{binding.command}: no option {option_name(name)}"
        if info.is_required():
            assert param.required, name
        else:
            assert param.default == _cli_default(info.get_default(call_default_factory=True)), name
        assert (info.description or "") in (param.help or ""), name


@pytest.mark.parametrize("schema", list(SECTIONS), ids=lambda s: s.__name__)
def test_every_schema_field_is_a_yaml_key_with_the_same_default(schema: type) -> None:
    section, spec, run_owned, differs = SECTIONS[schema]
    for name, info in schema.model_fields.items():
        if name in run_owned:  # the run sets it: the experiment file refuses the key rather than ignore it
            with pytest.raises(ValidationError):
                Experiment.model_validate({"students": STUDENTS, section: {name: info.get_default()}})
            continue
        assert name in spec.model_fields, f"{section}: no key {name}"
        expected = differs.get(name, info.get_default(call_default_factory=True))
        assert spec.model_fields[name].get_default(call_default_factory=True) == expected, f"{section}.{name}"
        # The key is accepted in an experiment file, and means the field.
        exp = Experiment.model_validate({"students": STUDENTS, section: {name: expected}})
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
    assert TeacherSpec().max_tokens == DistillConfig().max_tokens == 8192
