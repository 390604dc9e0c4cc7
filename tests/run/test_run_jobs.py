"""Issue 25 item 2: a cluster job is plain data, and `fs1 plan --dry-run` writes jobs that are `fs1 run --only STAGE
--shard I/N` — one code path with `fs1 run`, so what they write is what `fs1 run` writes, and `fs1 run` adopts it.

Also: `fs1 train --no-filter-check` and the run's train stage skip unanswered traces the same way (one function).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from fs1.cli.main import app
from fs1.run.runner import run_experiment
from fs1.seeding import DEFAULT_SEED
from tests.support.cli import cli, runner
from tests.train.test_train_support import sft_row, write_sft_dir

SETTINGS = ["instruct", "cot", "abstain", "rt", "fs1"]


def _experiment(tmp_path: Path, model: Path) -> Path:
    """Every setting (abstain included), sampling off the defaults, two shards per sharded stage."""
    spec = {
        "name": "jobs",
        "benchmark": "sample",
        "limit": 1,
        "teacher": {"model": str(model), "backend": "transformers", "max_tokens": 6, "options": {"dtype": "float32"}},
        "students": [{"name": "s", "model": str(model), "backend": "transformers",
                      "options": {"dtype": "float32", "threads": 1}}],
        "settings": SETTINGS,
        "train": {"max_steps": 1, "max_length": 256, "effective_batch": 1, "filter_check": False},
        "generation": {"n": 2, "max_tokens": 8, "budgets": [6], "temperature": 0.9, "top_p": 0.85, "top_k": 7,
                       "min_think_tokens": 2, "greedy_budgets": True, "answer_max_tokens": 4},
        "ks": [1, 2],
        "executor": {"shards": 2},
    }  # fmt: skip
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _outputs(rundir: Path) -> dict[str, bytes]:
    """Every record file a run keeps (paths, traces, predictions, scores)."""
    names = ["paths/paths.jsonl", "distill/rt/traces.jsonl", "distill/fs1/traces.jsonl"]
    names += [f"generate/s__{s}/predictions.jsonl" for s in SETTINGS] + [
        f"score/s__{s}/scores.jsonl" for s in SETTINGS
    ]
    return {name: (rundir / name).read_bytes() for name in names if (rundir / name).exists()}


@pytest.mark.slow
def test_plan_jobs_write_what_fs1_run_writes_and_fs1_run_adopts_them(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    experiment = _experiment(tmp_path, tiny_model_dir)
    reference = tmp_path / "whole"
    run_experiment(experiment, reference, log=lambda _: None)
    planned, scripts = tmp_path / "planned", tmp_path / "scripts"
    code, output = cli(
        "plan", str(experiment), "--dry-run", str(scripts), "--out", str(planned), "--questions", "6"
    )
    assert code == 0, output
    jobs = [line for line in (scripts / "jobs.txt").read_text().splitlines() if line.startswith("fs1 run")]
    stages = {shlex.split(line)[shlex.split(line).index("--only") + 1] for line in jobs}
    assert stages == {"paths", "distill/rt", "distill/fs1", "train/s-rt", "train/s-fs1"} | {
        f"generate/s__{s}" for s in SETTINGS
    }
    held_back = (
        f"fs1 run {planned / 'experiment.yaml'} --out {planned} --only generate/s__abstain --shard 1/2"
    )
    assert held_back in jobs
    for line in jobs:  # submitted by hand, in order; one shard is not run (its job was lost)
        if line != held_back:
            result = runner.invoke(app, shlex.split(line)[1:])
            assert result.exit_code == 0, (line, result.output)
    done = _outputs(planned)
    want = _outputs(reference)
    assert "generate/s__abstain/predictions.jsonl" not in done  # waits for its last shard
    for name, data in done.items():
        assert data == want[name], name  # the jobs' records are the bytes fs1 run writes
    # `fs1 run` adopts what the jobs made: it runs the lost shard only, merges it, and scores
    lines: list[str] = []
    run_experiment(planned / "experiment.yaml", planned, log=lines.append)
    ran = [line for line in lines if line.startswith("▶")]
    assert ran[0] == "▶ generate/s__abstain[1/2]: running" and all(
        line.startswith("▶ score/") for line in ran[1:]
    )
    assert _outputs(planned) == want
    # every job recorded how it was made, in its stage's jobs/ folder, kept after the merge
    abstain = planned / "generate" / "s__abstain" / "jobs"
    shard_manifests = sorted(p.name for p in abstain.iterdir())
    assert shard_manifests == [f"predictions.shard-{i}-of-2.manifest.json" for i in (0, 1)]
    for stage in stages:
        for path in (planned / stage / "jobs").glob("*.manifest.json"):
            manifest = json.loads(path.read_text())
            assert manifest["status"] == "finished" and manifest["seeds"]["run"] == DEFAULT_SEED, path
            assert manifest["inputs"]["experiment"]["sha256"] and manifest["packages"]["torch"], path
            if stage.startswith(("generate/", "distill/rt")):  # and the engine that made the job's records
                setting = stage.rsplit("__", 1)[-1]  # rt and fs1 students run their tuned checkpoint
                tuned = planned / "train" / f"s-{setting}" / "model"
                model = tuned if setting in ("rt", "fs1") else tiny_model_dir
                engine = manifest["engine"]
                assert (engine["backend"], engine["model"], engine["dtype"]) == (
                    "transformers",
                    str(model),
                    "float32",
                )
    assert {
        p.parent.parent.relative_to(planned).as_posix() for p in planned.glob("**/jobs/*.manifest.json")
    } == stages


def test_only_names_the_stage_a_job_is_waiting_for(tmp_path: Path, tiny_model_dir: Path) -> None:
    experiment = _experiment(tmp_path, tiny_model_dir)
    out = tmp_path / "run"
    code, output = cli(
        "run", str(experiment), "--out", str(out), "--only", "generate/s__rt", "--shard", "0/2"
    )
    assert code == 2 and "generate/s__rt needs train/s-rt, which is not done yet" in output, output
    code, output = cli("run", str(experiment), "--out", str(out), "--only", "generate/nobody__rt")
    assert code == 2 and "generate/nobody__rt: no such stage in this experiment" in output, output
    assert "generate/s__fs1" in output  # its stages are named
    code, output = cli("run", str(experiment), "--out", str(out), "--shard", "0/2")
    assert code == 2 and "--shard I/N needs --only STAGE" in output, output
    code, output = cli("run", str(experiment), "--out", str(out), "--only", "sft/s-rt", "--shard", "3/2")
    assert code == 2 and "--shard 3/2" in output and "Traceback" not in output, output


def test_a_cluster_job_is_a_top_level_function_with_plain_arguments(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """What the Slurm and Ray executors submit: the run directory, the stage, the shard — no pickled pipeline."""
    import functools

    from fs1.run.cluster.executors import LocalExecutor
    from fs1.run.jobs import run_job
    from fs1.run.pipeline import Pipeline

    class Remote(LocalExecutor):
        remote = True

    experiment = _experiment(tmp_path, tiny_model_dir)
    out = tmp_path / "run"
    run_experiment(experiment, out, log=lambda _: None, only="paths", shard=None)
    pipe = Pipeline.for_job(out, out / "experiment.yaml")
    pipe.executor = Remote()
    call = pipe.job_call(None, "distill/rt", None)  # type: ignore[arg-type]
    assert isinstance(call, functools.partial) and call.func is run_job and not call.keywords
    assert all(isinstance(a, str | int | bool | type(None)) for a in call.args)
    assert call.args[:4] == (str(out), "distill/rt", None, 1)
    assert not hasattr(Pipeline, "__getstate__") or Pipeline.__getstate__ is object.__getstate__


def test_unanswered_traces_are_skipped_and_counted_by_fs1_train_as_by_the_run(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from fs1.train.data import prepare, unanswered

    rows = [sft_row(0), sft_row(1, model_attempt="", label=0, valid=0), sft_row(2)]
    data = write_sft_dir(tmp_path / "sft", rows)
    out = tmp_path / "model"
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--out", str(out), "--max-steps", "1",
            "--no-filter-check", "--effective-batch", "1", "--per-device-batch", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "skipped 1 trace(s) without an answer" in " ".join(result.output.split())
    summary = json.loads((out / "fs1_train.json").read_text())
    assert summary["data"]["dropped"]["unanswered"] == 1
    # the run's train stage reads the same rows through the same function (fs1.run.training: no filter of its own)
    assert [unanswered(r) for r in rows] == [False, True, False]
    assert prepare.__module__ == "fs1.train.data"
    import fs1.run.training as training

    assert "answered_traces" not in vars(training)
