"""Scale-out without a cluster: shard slicing and the exactly-once merge, `fs1 generate --shard/--merge-shards`,
resources from model size, packing (`fs1 plan`, sbatch scripts), `fs1 status`, the executor settings' validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fs1.cli.main import app
from fs1.generate.predictions import prediction_key
from fs1.io import InputError, JsonlAppender, write_json_atomic
from fs1.run.cluster.executors import Job, Ledger, Resources
from fs1.run.cluster.plan import generation_jobs, one_model_per_node, pack, planned_jobs
from fs1.run.cluster.resources import default_resources, model_size_b, resolve_resources
from fs1.run.cluster.scripts import plan_files
from fs1.run.config import ExecutorSpec, Experiment, load_experiment
from fs1.run.status import run_status
from fs1.shards import (
    done_path,
    drop_other_counts,
    mark_done,
    merge_shards,
    parse_shard,
    shard_path,
    shard_slice,
)
from tests.support.cli import runner

# --- shards -------------------------------------------------------------------------------------------------------


@given(st.integers(0, 60), st.integers(1, 9))
def test_shard_slices_cover_every_item_once_in_order(total: int, count: int) -> None:
    items = list(range(total))
    parts = [shard_slice(items, i, count) for i in range(count)]
    assert [x for part in parts for x in part] == items
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1", "a/b", "0/0"])
def test_parse_shard_rejects_bad_specs(text: str) -> None:
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


def _write_part(out: Path, index: int, count: int, keys: list[tuple[str, int]], done: bool = True) -> Path:
    part = shard_path(out, index, count)
    with JsonlAppender(part) as sink:
        for qid, sample in keys:
            sink.write({"id": qid, "sample": sample, "budget": None, "text": f"{qid}-{sample}"})
    if done:
        mark_done(part)
    return part


def test_merge_checks_every_key_once_and_keeps_shard_order(tmp_path: Path) -> None:
    out = tmp_path / "predictions.jsonl"
    expected = {(q, s, None) for q in "abc" for s in range(2)}
    _write_part(out, 0, 2, [("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    _write_part(out, 1, 2, [("c", 1), ("c", 0)])
    for part in (0, 1):  # the configuration each shard was made with (the same for all)
        (tmp_path / f"predictions.shard-{part}-of-2.config.json").write_text('{"seed": 0}\n')
    assert merge_shards(out, 2, expected, prediction_key) == 6
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == [
        "a-0", "a-1", "b-0", "b-1", "c-1", "c-0",
    ]  # fmt: skip
    assert sorted(tmp_path.iterdir()) == [
        tmp_path / "predictions.config.json",
        out,
    ]  # shard files go once merged
    assert json.loads((tmp_path / "predictions.config.json").read_text()) == {"seed": 0}


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            [("c", 0), ("c", 1), ("b", 1)],
            r"shard-1-of-2\.jsonl:3: key \('b', 1, None\) already written at .*shard-0",
        ),
        ([("c", 0)], r"1 key\(s\) written by no shard, e\.g\. \('c', 1, None\)"),
        ([("c", 0), ("c", 1), ("z", 0)], r"shard-1-of-2\.jsonl:3: key \('z', 0, None\) does not belong"),
    ],
)
def test_merge_fails_loudly_on_doubled_missing_or_foreign_keys(
    tmp_path: Path, second: list[tuple[str, int]], message: str
) -> None:
    out = tmp_path / "predictions.jsonl"
    expected = {(q, s, None) for q in "abc" for s in range(2)}
    _write_part(out, 0, 2, [("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    _write_part(out, 1, 2, second)
    with pytest.raises(InputError, match=message):
        merge_shards(out, 2, expected, prediction_key)
    assert not out.exists()  # nothing half-merged


def test_shard_files_of_another_count_are_dropped(tmp_path: Path) -> None:
    out = tmp_path / "predictions.jsonl"
    old = _write_part(out, 0, 3, [("a", 0)], done=False)
    done_path(old).write_text("")
    keep = _write_part(out, 1, 2, [("b", 0)], done=False)
    assert drop_other_counts(out, 2) == [old]
    assert sorted(tmp_path.iterdir()) == [keep]


def test_cli_shards_then_merge_equal_one_unsharded_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    common = ["generate", "--benchmark", "sample", "--limit", "5", "--model", str(tiny_model_dir), "--n", "2"]
    common += ["--max-tokens", "6", "--threads", "1", "--dtype", "float32"]
    whole = runner.invoke(app, [*common, "--out", str(tmp_path / "whole.jsonl")])
    assert whole.exit_code == 0, whole.output
    sharded = tmp_path / "sharded.jsonl"
    for shard in ("1/2", "0/2"):
        result = runner.invoke(app, [*common, "--out", str(sharded), "--shard", shard])
        assert result.exit_code == 0, result.output
        assert done_path(shard_path(sharded, *map(int, shard.split("/")))).exists()
    merged = runner.invoke(app, [*common, "--out", str(sharded), "--merge-shards", "2"])
    assert merged.exit_code == 0 and "every key once" in merged.output, merged.output

    def rows(path: Path) -> list[tuple]:
        data = [json.loads(line) for line in path.read_text().splitlines()]
        return [(r["id"], r["sample"], r["text"], r["seed"]) for r in data]

    assert rows(sharded) == rows(tmp_path / "whole.jsonl")
    assert len(rows(sharded)) == 10
    shard_path(sharded, 0, 2).unlink()
    missing = runner.invoke(app, [*common, "--out", str(sharded), "--merge-shards", "2"])
    assert missing.exit_code == 2 and "shard files missing: sharded.shard-0-of-2.jsonl" in missing.output


# --- resources -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("Qwen/Qwen2.5-32B-Instruct", 32.0),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", 0.36),
        ("meta-llama/Llama-3.1-8B", 8.0),
        ("smollm2-135m", 0.135),
        ("runs/x/train/student-fs1/model", None),
    ],
)
def test_model_size_is_read_from_the_id(model: str, size: float | None) -> None:
    assert model_size_b(model) == (pytest.approx(size) if size is not None else None)


def test_resources_default_by_size_then_file_overrides() -> None:
    assert default_resources("generate", "Qwen/Qwen2.5-0.5B-Instruct", "vllm").gpus == 1
    assert default_resources("generate", "Qwen/Qwen2.5-32B-Instruct", "vllm").gpus == 2
    assert default_resources("train", "Qwen/Qwen2.5-7B-Instruct", "transformers").gpus == 4
    assert default_resources("generate", "smollm2-135m", "llamacpp").gpus == 0  # a CPU engine
    # ...but its student is fine-tuned with transformers like any other: training gets the GPUs of its size
    assert default_resources("train", "Qwen/Qwen2.5-7B-Instruct", "llamacpp").gpus == 4
    assert default_resources("train", "Qwen/Qwen2.5-7B-Instruct", "openai").gpus == 4
    assert default_resources("paths", None, None).gpus == 0
    spec = ExecutorSpec.model_validate(
        {
            "resources": {
                "default": {"partition": "gpu", "cpus": 2},
                "generate": {"cpus": 6, "sbatch": ["--nice"]},
            }
        }
    )
    res = resolve_resources(spec, "generate", "Qwen/Qwen2.5-7B-Instruct", "vllm")
    assert (res.gpus, res.cpus, res.partition, res.sbatch) == (1, 6, "gpu", ("--nice",))
    assert resolve_resources(spec, "train", "Qwen/Qwen2.5-7B-Instruct", "vllm").cpus == 2


def test_executor_section_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "students: [{name: a, model: m}]\nexecutor:\n  kind: slurm\n  resources:\n    generat: {gpus: 1}\n"
    )
    with pytest.raises(InputError, match=r"exp\.yaml:5: executor\.resources\.generat"):
        load_experiment(path)
    path.write_text("students: [{name: a, model: m}]\nexecutor: {kind: pbs}\n")
    with pytest.raises(InputError, match=r"exp\.yaml:2: executor\.kind"):
        load_experiment(path)


def test_extra_sbatch_lines_and_scontrol_array_ids() -> None:
    pytest.importorskip("submitit")
    from fs1.run.cluster.on_slurm import _task_ids, extra_sbatch, sbatch_parameters

    assert extra_sbatch(["--exclusive", "#SBATCH --gres=gpu:4", "--nice 10"]) == {
        "exclusive": True,
        "gres": "gpu:4",
        "nice": "10",
    }
    with pytest.raises(ValueError, match="long option"):
        extra_sbatch(["-N 2"])
    assert _task_ids("0-2,5%2") == ["0", "1", "2", "5"]
    params = sbatch_parameters(
        Resources(gpus=2, cpus=16, mem_gb=64, time_min=90, partition="gpu"),
        ExecutorSpec().slurm,
        "fs1-generate",
    )
    assert params["gpus_per_node"] == 2 and params["mem"] == "64G" and params["partition"] == "gpu"


# --- planning and packing ----------------------------------------------------------------------------------------


def _grid(students: list[str], shards: int = 1) -> Experiment:
    return Experiment.model_validate(
        {
            "students": [{"name": m.split("/")[-1], "model": m, "backend": "vllm"} for m in students],
            "settings": ["instruct", "cot", "rt", "fs1"],
            "generation": {"n": 16, "budgets": [512, 1024, 2048, 4096, 8000]},
            "executor": {"shards": shards},
        }
    )


PAPER = [f"Qwen/Qwen2.5-{s}-Instruct" for s in ("0.5B", "1.5B", "3B", "7B", "14B", "32B")] + [
    "HuggingFaceTB/SmolLM2-360M-Instruct",
    "HuggingFaceTB/SmolLM2-1.7B-Instruct",
]


def test_generation_jobs_cover_the_grid_with_estimates() -> None:
    jobs = generation_jobs(_grid(PAPER, shards=4), 22_600)
    assert len(jobs) == 8 * 4 * 4
    labels = {j.label for j in jobs}
    assert "generate/Qwen2.5-32B-Instruct__fs1[3/4]" in labels and len(labels) == len(jobs)
    big = next(j for j in jobs if j.stage == "generate/Qwen2.5-32B-Instruct__fs1")
    small = next(j for j in jobs if j.stage == "generate/SmolLM2-360M-Instruct__fs1")
    assert big.gpus == 2 and small.gpus == 1 and big.hours > small.hours > 0
    forced = next(j for j in jobs if j.stage == "generate/Qwen2.5-7B-Instruct__rt")
    unforced = next(j for j in jobs if j.stage == "generate/Qwen2.5-7B-Instruct__instruct")
    assert forced.hours > 10 * unforced.hours  # thinking to 8K tokens vs a short answer


def test_packing_never_overfills_a_gpu_and_places_every_job_once() -> None:
    jobs = generation_jobs(_grid(PAPER, shards=4), 22_600)
    placement = pack(jobs, nodes=4, gpus_per_node=8)
    placed = [p.job.label for node in placement.nodes for p in node.placed]
    assert sorted(placed) == sorted(j.label for j in jobs)
    for node in placement.nodes:
        for gpu in range(8):  # no two jobs on one GPU at the same time
            spans = sorted((p.start, p.end) for p in node.placed if gpu in p.gpus)
            assert all(
                a_end <= b_start + 1e-9 for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
            )
        assert all(len(p.gpus) == p.job.gpus == len(set(p.gpus)) for p in node.placed)
    assert placement.busy_gpu_hours == pytest.approx(sum(j.gpu_hours for j in jobs))
    lower_bound = sum(j.gpu_hours for j in jobs) / 32
    assert placement.makespan < 1.1 * lower_bound


def test_small_models_share_a_node_instead_of_idling_seven_gpus() -> None:
    jobs = generation_jobs(_grid(PAPER[:3] + PAPER[6:], shards=2), 22_600)  # five TP-1 students
    packed = pack(jobs, nodes=2, gpus_per_node=8)
    naive = one_model_per_node(jobs, nodes=2, gpus_per_node=8)
    first = packed.nodes[0]
    assert len({p.job.model for p in first.placed if p.start == 0}) >= 2  # several models side by side
    assert {g for p in first.placed if p.start == 0 for g in p.gpus} == set(range(8))
    assert packed.makespan < naive.makespan / 2
    assert packed.idle_fraction < 0.2 < 0.8 < naive.idle_fraction


def test_a_job_wider_than_a_node_is_refused() -> None:
    jobs = generation_jobs(_grid(["Qwen/Qwen2.5-72B-Instruct"]), 100)
    with pytest.raises(ValueError, match="needs 4 GPUs, more than a node's 2"):
        pack(jobs, nodes=1, gpus_per_node=2)


def test_dry_run_scripts_give_each_lane_its_own_gpus_and_each_shard_once(tmp_path: Path) -> None:
    exp = _grid(PAPER[:2] + ["Qwen/Qwen2.5-32B-Instruct"], shards=2)
    jobs = planned_jobs(exp, 1000)
    rundir = tmp_path / "run"
    files = plan_files(exp, jobs, rundir, nodes=2, gpus_per_node=8)
    commands = []
    for name, text in files.items():
        if not name.endswith(".sbatch") or "--array" in text:
            continue
        assert text.startswith("#!/bin/bash\n#SBATCH --job-name=fs1-w")
        gpus = int(re.search(r"--gpus-per-node=(\d+)", text)[1])
        holder: dict[str, str] = {}  # a job starts only after waiting for every job that held its GPUs
        waited: set[str] = set()
        for line in text.splitlines():
            if line.startswith("wait $"):
                waited = set(re.findall(r"\$(job\d+)", line))
            elif line.startswith("CUDA_VISIBLE_DEVICES="):
                devices = line.split()[0].split("=")[1].split(",")
                assert all(int(d) < gpus for d in devices)
                before = {holder[d] for d in devices if d in holder}
                assert before <= (waited if before else set()), line
                job = re.search(r"(job\d+)=\$!$", line)[1]
                holder.update(dict.fromkeys(devices, job))
                commands.append(line.split(" ", 1)[1])
                waited = set()
        assert text.rstrip().endswith(
            "exit $failed"
        )  # a failed job fails the node's script, and the next wave
    gpu_jobs = [j for j in jobs if j.gpus]
    keys = [
        (re.search(r"--only (\S+)", c)[1], (re.search(r"--shard (\S+)", c) or [None, None])[1])
        for c in commands
    ]
    assert len(keys) == len(set(keys)) == len(gpu_jobs)
    assert all(c.startswith(f"fs1 run {rundir / 'experiment.yaml'} --out {rundir} --only ") for c in commands)
    # every job, GPU or CPU, is one line of jobs.txt, wave by wave; CPU stages are arrays over their shards
    listed = [line for line in files["jobs.txt"].splitlines() if line.startswith("fs1 run")]
    assert len(listed) == len(jobs) and [j.wave for j in jobs] == sorted(j.wave for j in jobs)
    paths = files["wave1-paths.sbatch"]
    assert "#SBATCH --array=0-1" in paths and paths.rstrip().endswith(
        "--only paths --shard $SLURM_ARRAY_TASK_ID/2"
    )
    assert files["submit.sh"].count("--dependency=afterok") == len({j.wave for j in jobs})


def test_plan_covers_every_heavy_stage() -> None:
    spec = _grid(PAPER[:2], shards=2).model_dump(exclude_defaults=True)
    spec["judge"] = {"model": "Qwen/Qwen2.5-7B-Instruct", "backend": "vllm"}
    jobs = planned_jobs(Experiment.model_validate(spec), 100)
    kinds = {j.kind: j.wave for j in jobs}
    assert kinds == {"paths": 1, "distill": 2, "train": 3, "generate": 4, "judge": 5}
    assert sum(j.kind == "train" for j in jobs) == 2 * 2 and sum(j.kind == "judge" for j in jobs) == 2 * 4
    assert all(j.gpus > 0 and j.hours > 0 for j in jobs if j.kind in ("train", "generate", "judge"))


def test_cli_plan_prints_jobs_and_writes_scripts(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(_grid(PAPER[:2]).model_dump(exclude_defaults=True)))
    rundir = tmp_path / "run"
    result = runner.invoke(
        app,
        ["plan", str(path), "--questions", "500", "--shards", "3", "--dry-run", str(tmp_path / "s"),
         "--out", str(rundir)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "24 generation job(s) over 500 questions" in result.output
    assert "packed (fs1 plan): makespan" in result.output and "one model per node: makespan" in result.output
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert {"jobs.txt", "submit.sh", "wave4-node000.sbatch"} <= set(names)
    # the run directory is prepared for the jobs: fs1's marker and the experiment they rebuild the stages from
    assert (rundir / "experiment.yaml").read_bytes() == path.read_bytes() and (
        rundir / "manifest.json"
    ).exists()


def test_plan_refuses_a_job_wider_than_a_node_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(_grid(["Qwen/Qwen2.5-72B-Instruct"]).model_dump(exclude_defaults=True)))
    result = runner.invoke(app, ["plan", str(path), "--questions", "10", "--gpus-per-node", "2"])
    assert result.exit_code == 2 and "needs 4 GPUs, more than a node's 2" in result.output
    assert "Traceback" not in result.output


def test_a_malformed_sbatch_line_fails_at_load_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "students: [{name: a, model: m}]\nexecutor:\n  resources:\n    generate: {sbatch: [-N 2]}\n"
    )
    with pytest.raises(InputError, match=r"exp\.yaml:4: executor\.resources\.generate\.sbatch.*long option"):
        load_experiment(path)


# --- status -------------------------------------------------------------------------------------------------------


def test_status_reads_markers_shards_and_ledger(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_json_atomic(run / "benchmark" / ".stage.json", {"fingerprint": "a", "done": True})
    (run / "benchmark" / "questions.jsonl").write_text("{}\n{}\n")
    gen = run / "generate" / "m__instruct"
    write_json_atomic(gen / ".stage.json", {"fingerprint": "b", "done": False})
    out = gen / "predictions.jsonl"
    done_part = _write_part(out, 0, 3, [("a", 0), ("a", 1)])
    done_path(done_part).write_text("")
    running = _write_part(out, 1, 3, [("b", 0)], done=False)
    running.with_name(running.name + ".running").write_text("{}")
    with JsonlAppender(gen / ".attempts.jsonl") as sink:  # shard 1 was retried once
        for job in (done_part.name, running.name, running.name):
            sink.write({"job": job, "pid": 1, "host": "h", "started": 0})
    ledger = Ledger(run, "slurm")
    for shard, event, error in (
        (0, "finished", None),
        (1, "submitted", None),
        (2, "failed", "CANCELLED by 0"),
    ):
        ledger.note(
            Job("generate/m__instruct", lambda: None, shard=shard, shards=3), event, f"7_{shard}", error
        )
    rows = {(r.stage, r.shard): r for r in run_status(run)}
    assert rows[("benchmark", "")].state == "done" and rows[("benchmark", "")].records == 2
    assert (rows[("generate/m__instruct", "0/3")].state, rows[("generate/m__instruct", "0/3")].records) == (
        "done",
        2,
    )
    assert rows[("generate/m__instruct", "1/3")].state == "running"
    assert [rows[("generate/m__instruct", f"{i}/3")].attempts for i in range(3)] == [1, 2, 0]
    failed = rows[("generate/m__instruct", "2/3")]
    assert (failed.state, failed.job_id, failed.error, failed.records) == (
        "failed",
        "7_2",
        "CANCELLED by 0",
        None,
    )
    result = runner.invoke(app, ["status", str(run)])
    assert result.exit_code == 0 and "1 failed" in result.output and "CANCELLED by 0" in result.output
