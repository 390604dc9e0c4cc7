"""`fs1 train` and `fs1 accelerate-config` through Typer's CliRunner, the shipped accelerate configs, kill -9 + resume,
the GPU check's CPU smoke run (--tiny), and (slow) two steps on the real embedded model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fs1.cli.main import app
from tests.support.cli import runner
from tests.train.test_train_support import sft_row, write_jsonl, write_sft_dir

REPO = Path(__file__).resolve().parents[2]
TINY_RUN = ["--effective-batch", "2", "--per-device-batch", "2", "--lr", "3e-3", "--logging-steps", "1"]


def two_step_run(tmp_path: Path, model: Path, out: Path) -> list[str]:
    """`fs1 train` arguments for two steps on two SFT rows written under ``tmp_path``."""
    data = write_sft_dir(tmp_path / "sft", [sft_row(i) for i in range(2)])
    return ["train", "--data", str(data), "--model", str(model), "--out", str(out), "--max-steps", "2"]


def test_help_names_the_recipe_options() -> None:
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    for option in ("--data", "--model", "--out", "--epochs", "--lr", "--max-length", "--lora", "--merge-lora",
                   "--max-steps", "--resume-from-checkpoint", "--no-filter-check", "--packing"):  # fmt: skip
        assert option in result.output, option


def test_missing_columns_exit_2_with_one_line_naming_the_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_jsonl(
        tmp_path / "t.jsonl", [{"question": "q?", "reasoning_trace": "r", "model_attempt": "a"}]
    )
    result = runner.invoke(
        app, ["train", "--data", str(data), "--model", str(tiny_model_dir), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "error:" in result.output and "t.jsonl" in result.output and "--no-filter-check" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "config.json").exists()


def test_bad_option_values_are_one_line_errors(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", [sft_row(0)])
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*args, "--effective-batch", "3", "--per-device-batch", "2"])
    assert result.exit_code == 2 and "not a multiple" in result.output
    result = runner.invoke(app, [*args, "--merge-lora"])
    assert result.exit_code == 2 and "merge_lora needs lora" in result.output


def test_cli_trains_and_writes_a_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "model"
    args = two_step_run(tmp_path, tiny_model_dir, out)
    result = runner.invoke(app, [*args, *TINY_RUN, "--resume"])  # nothing to resume yet: starts from scratch
    assert result.exit_code == 0, result.output
    assert "steps 0 → 2" in result.output
    summary = json.loads((out / "fs1_train.json").read_text())
    assert summary["result"]["global_step"] == 2 and summary["config"]["learning_rate"] == 3e-3
    again = runner.invoke(app, [*args, *TINY_RUN])  # a finished model is not overwritten silently
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_accelerate_configs_parse_as_fsdp_full_shard_and_zero3() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    paths = {}
    for name in ("fsdp_full_shard", "deepspeed_zero3"):
        result = runner.invoke(app, ["accelerate-config", name])
        assert result.exit_code == 0
        paths[name] = result.output.strip()
    fsdp = load_config_from_file(paths["fsdp_full_shard"])
    assert fsdp.distributed_type == "FSDP" and fsdp.mixed_precision == "bf16"
    assert fsdp.fsdp_config["fsdp_version"] == 2 and fsdp.fsdp_config["fsdp_reshard_after_forward"] is True
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    zero3 = load_config_from_file(paths["deepspeed_zero3"])
    assert zero3.distributed_type == "DEEPSPEED" and zero3.deepspeed_config["zero_stage"] == 3
    assert zero3.deepspeed_config["zero3_save_16bit_model"] is True
    assert runner.invoke(app, ["accelerate-config", "nope"]).exit_code == 2


@pytest.mark.slow
def test_kill_9_then_resume_finishes_the_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A real `fs1 train` process killed after its first checkpoint; `--resume` continues from the newest one."""
    data = write_sft_dir(tmp_path / "sft", [sft_row(i) for i in range(2)])
    out = tmp_path / "model"
    args = [sys.executable, "-m", "fs1.cli.main", "train", "--data", str(data), "--model", str(tiny_model_dir),
            "--out", str(out), "--save-steps", "2", "--scheduler", "constant", *TINY_RUN]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    # A run far longer than the test: it can only end by the kill.
    proc = subprocess.Popen([*args, "--max-steps", "100000"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        state = out / "checkpoints" / "checkpoint-2" / "trainer_state.json"
        deadline = time.monotonic() + 240
        while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for a file the child writes, not hiding a race
        assert state.exists(), "no checkpoint was written"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (out / "config.json").exists()  # killed before the end: no half model in OUT
    saved = max(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*"))
    # The newest checkpoint may be torn by the kill; resume then starts from the one before it.
    target = saved + 2
    done = subprocess.run([*args, "--resume", "--max-steps", str(target)], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "fs1_train.json").read_text())
    assert summary["result"]["start_step"] in (saved, saved - 2)
    assert summary["result"]["global_step"] == target


@pytest.mark.slow
def test_gpu_check_tiny_runs_on_cpu(tmp_path: Path) -> None:
    """The GPU recipe's script runs end to end with --tiny on a CPU and logs the figures it reports on a GPU."""
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--tiny", "--work", str(tmp_path / "w")],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    log = (tmp_path / "out" / "gpu_check.log").read_text()
    assert done.returncode == 0, log[-3000:]
    stats = json.loads(next(line for line in log.splitlines() if line.startswith("gpu_check: train "))[17:])
    assert stats["steps"] == 6 and stats["tokens_per_s"] > 0 and stats["loss_last"] < stats["loss_first"]
    assert "gpu_check: generate" in log and "gpu_check: OK" in log


@pytest.mark.slow
def test_embedded_model_trains_two_steps(tmp_path: Path) -> None:
    """The real SmolLM2-135M-Instruct (fs1's embedded model) fine-tunes on CPU: finite loss, loadable output."""
    from transformers import AutoModelForCausalLM

    data = write_jsonl(tmp_path / "t.jsonl", [sft_row(i) for i in range(2)])
    out = tmp_path / "smol"
    args = ["train", "--data", str(data), "--model", "smollm2-135m", "--out", str(out), "--max-steps", "2",
            "--effective-batch", "1", "--per-device-batch", "1", "--logging-steps", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "fs1_train.json").read_text())
    losses = [loss for _, loss in summary["result"]["losses"]]
    assert len(losses) == 2 and all(0 < loss < 20 for loss in losses)
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in (out / "README.md").read_text()
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.num_hidden_layers == 30 and model.config.use_cache


def test_console_shows_a_progress_line_and_the_log_gets_the_library_output(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "model"
    args = two_step_run(tmp_path, tiny_model_dir, out)
    result = runner.invoke(app, [*args, *TINY_RUN])
    assert result.exit_code == 0, result.output
    assert "train model" in result.output and "tok/s" in result.output  # the progress line: loss and speed
    for chatter in ("{'loss'", "'loss':", "Warning", "pin_memory", "Loading weights"):
        assert chatter not in result.output, chatter
    log = (out / "log.txt").read_text(encoding="utf-8")
    assert "'loss':" in log  # the trainer's own log lines are kept, in the log
    verbose = runner.invoke(app, [*args, *TINY_RUN, "--overwrite", "--verbose"])
    assert verbose.exit_code == 0, verbose.output
    assert "'loss':" in verbose.output
