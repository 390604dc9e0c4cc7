"""``ModelRef``: one reference for every role that names a model (student, teacher, judge, ``fs1 generate``), checked
at load against its backend's options; backends told apart by capability, never by name; a new backend is a module
and a registry entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.backends import BACKENDS, load_backend
from fs1.backends.ref import ModelRef
from fs1.errors import ConfigError, InputError
from fs1.run.config import load_experiment
from tests.support.cli import cli
from tests.support.echo_backend import EchoBackend, echo_entry

STUDENT_TYPO = """\
students:
  - name: a
    model: m
    backend: {backend}
    options:
      {key}: 1
"""


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_typo_in_any_backend_option_fails_at_load_naming_the_keys_line(
    tmp_path: Path, backend: str
) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(STUDENT_TYPO.format(backend=backend, key="timout"))
    with pytest.raises(
        InputError, match=rf"exp\.yaml:6: students\.0\.options\.timout: not an option of the {backend} "
    ):
        load_experiment(path)


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("teacher:\n  model: m\n  backend: transformers\n  options:\n    dtype: float8\n", 5),
        ("judge:\n  model: j\n  backend: openai\n  options:\n    max_retry_after: soon\n", 5),
    ],
)
def test_the_teacher_and_the_judge_options_are_checked_at_load_too(
    tmp_path: Path, section: str, line: int
) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("students: [{name: a, model: m}]\n" + section)
    with pytest.raises(InputError, match=rf"exp\.yaml:{line + 1}: (teacher|judge)\.options\."):
        load_experiment(path)


def test_server_settings_go_with_a_remote_backend_only() -> None:
    with pytest.raises(ValueError, match=r"base_url applies to a remote backend \(openai\), not 'vllm'"):
        ModelRef(model="m", backend="vllm", base_url="http://x/v1")
    assert ModelRef(model="m", backend="openai", base_url="http://x/v1").engine_options() == {
        "base_url": "http://x/v1"
    }
    with pytest.raises(ValueError, match="given twice"):
        ModelRef(model="m", backend="openai", tokenizer="a", options={"tokenizer": "b"})


def test_auto_and_the_checkpoint_backend_come_from_the_registry() -> None:
    assert ModelRef(model="smollm2-135m").resolved_backend() == "llamacpp"
    assert ModelRef(model="Qwen/Qwen2.5-7B").resolved_backend() == "transformers"
    assert ModelRef(model="served", base_url="http://x/v1").resolved_backend() == "openai"
    # llama.cpp reads GGUF only: a student fine-tuned from a model on it is run on transformers, without its options
    tuned = ModelRef(model="smollm2-135m", backend="llamacpp", options={"weights": "as-is"}).for_checkpoint(
        "ckpt"
    )
    assert (tuned.model, tuned.backend, tuned.options) == ("ckpt", "transformers", {})
    same = ModelRef(model="m", backend="vllm", options={"seed": 1}).for_checkpoint("ckpt")
    assert (same.backend, same.options) == ("vllm", {"seed": 1})
    assert ModelRef(model="m", backend="vllm").with_options(tensor_parallel_size=2).options == {
        "tensor_parallel_size": 2
    }


def test_load_backend_refuses_an_unknown_backend_or_option_in_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'tpu'"):
        load_backend("tpu", "m")
    with pytest.raises(ConfigError, match="weights: Input should be"):
        load_backend("llamacpp", "smollm2-135m", weights="q3_z")


def test_the_command_line_names_the_option_of_a_typo(tmp_path: Path) -> None:
    code, output = cli(
        "generate", "--benchmark", "sample", "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
        "--base-url", "http://127.0.0.1:9/v1", "--backend-option", "timout=3",
    )  # fmt: skip
    assert code == 2 and "--backend-option timout: not an option of the openai backend" in output
    assert "Traceback" not in output and not (tmp_path / "p.jsonl").exists()
    code, output = cli("distill", "--benchmark", "sample", "--out", str(tmp_path / "t.jsonl"), "--stream")
    assert code == 2 and "--stream: stream applies to a remote backend (openai), not 'llamacpp'" in output


def test_a_new_backend_is_a_module_and_one_registry_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(BACKENDS, "echo", echo_entry())
    assert isinstance(load_backend(ModelRef(model="m", backend="echo")), EchoBackend)
    out = tmp_path / "p.jsonl"
    code, output = cli(
        "generate", "--benchmark", "sample", "--limit", "2", "--out", str(out), "--backend", "echo",
        "--model", "m", "--backend-option", "reply=\\boxed{Rome}", "--n", "2",
    )  # fmt: skip
    assert code == 0, output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert (
        len(rows) == 4
        and {r["text"] for r in rows} == {"\\boxed{Rome}"}
        and rows[0]["meta"]["backend"] == "echo"
    )
    code, output = cli("generate", "--benchmark", "sample", "--out", str(tmp_path / "q.jsonl"), "--backend", "echo",
                       "--backend-option", "rply=x")  # fmt: skip
    assert code == 2 and "not an option of the echo backend (its options: reply)" in output


def test_options_that_change_outputs_are_in_the_fingerprints_and_transport_options_are_not() -> None:
    from fs1.run.config import JudgeSpec, ModelSpec

    plain = ModelSpec(name="s", model="m", backend="transformers")
    assert plain.fingerprint() == plain.model_dump(exclude={"options"})  # runs without options keep theirs
    bf16 = ModelSpec(name="s", model="m", backend="transformers", options={"dtype": "bfloat16"})
    fp32 = ModelSpec(name="s", model="m", backend="transformers", options={"dtype": "float32"})
    assert len({json.dumps(x.fingerprint(), sort_keys=True) for x in (plain, bf16, fp32)}) == 3
    server = {"name": "s", "model": "m", "backend": "openai", "base_url": "http://127.0.0.1:9/v1"}
    waits = ModelSpec(**server, options={"timeout": 5, "max_retries": 1, "concurrency": 2})
    assert waits.fingerprint() == ModelSpec(**server).fingerprint()
    context = ModelSpec(**server, options={"context_length": 2048})
    assert context.fingerprint() != ModelSpec(**server).fingerprint()
    judge = JudgeSpec(model="m", backend="transformers")
    assert (
        judge.fingerprint()
        != JudgeSpec(model="m", backend="transformers", options={"dtype": "float32"}).fingerprint()
    )
