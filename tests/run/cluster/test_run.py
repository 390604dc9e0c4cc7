"""`fs1 run --executor slurm|ray` on real engines: a one-node Slurm cluster started here (munge, slurmctld, slurmd)
and a local Ray cluster, each running configs/demo-quick.yaml with two shards per sharded stage. Both must give the
local executor's results.parquet; a shard cancelled (Slurm) or a worker killed (Ray) mid-run loses and doubles
nothing. One local baseline run serves both (the Ray run starts from its upstream stages, so only generation runs on
Ray); every process runs with one math thread so results are bit-comparable.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from fs1.io import read_jsonl_rows
from tests.support.slurm_cluster import skip_reason, slurm_cluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # a full demo-quick run or two per test
ROOT = Path(__file__).resolve().parents[3]
RUN_TIMEOUT_S = 1800


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}


def _experiment(directory: Path, executor: dict) -> Path:
    """configs/demo-quick.yaml with an executor section: one CPU, no GPU per job (this machine)."""
    spec = yaml.safe_load((ROOT / "configs" / "demo-quick.yaml").read_text())
    spec["executor"] = {
        "resources": {"default": {"cpus": 1, "gpus": 0, "mem_gb": 2, "time_min": 60}},
        **executor,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run_cmd(experiment: Path, rundir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fs1.cli.main", "run", str(experiment), "--out", str(rundir), *extra]


@pytest.fixture(scope="module")
def local_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local executor's run of the experiment, unsharded (the reference for both engines)."""
    base = tmp_path_factory.mktemp("local")
    experiment = _experiment(base, {})
    done = subprocess.run(
        _run_cmd(experiment, base / "run"), env=_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "run"


def _rows(rundir: Path) -> list[tuple]:
    """results.parquet as a sorted list of rows (None sorts apart from numbers)."""
    table = pq.read_table(rundir / "results.parquet").to_pylist()
    return sorted((tuple(sorted(row.items())) for row in table), key=repr)


def _assert_every_key_once(rundir: Path, baseline: Path) -> None:
    """Merged predictions hold the baseline's keys, each once; no shard file is left behind."""
    runs = sorted(p.parent.name for p in (baseline / "generate").glob("*/predictions.jsonl"))
    assert runs and runs == sorted(p.parent.name for p in (rundir / "generate").glob("*/predictions.jsonl"))
    for run in runs:
        keys = Counter(
            (r["id"], r["sample"], r.get("budget"))
            for _, r in read_jsonl_rows(rundir / "generate" / run / "predictions.jsonl")
        )
        expected = {
            (r["id"], r["sample"], r.get("budget"))
            for _, r in read_jsonl_rows(baseline / "generate" / run / "predictions.jsonl")
        }
        assert set(keys) == expected and set(keys.values()) == {1}, run
        assert not list((rundir / "generate" / run).glob("*.shard-*")), run


def _ledger(rundir: Path) -> list[dict]:
    path = rundir / ".jobs" / "ledger.jsonl"
    return [row for _, row in read_jsonl_rows(path)] if path.exists() else []


def _wait_for_running_shard(rundir: Path, proc: subprocess.Popen) -> Path:
    """The `.running` sidecar of the first generation shard a worker has started (the job is mid-run)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        found = sorted((rundir / "generate").glob("*/predictions.shard-*.running"))
        if found:
            return found[0]
        assert proc.poll() is None, "the run ended before any generation shard started"
        time.sleep(0.2)
    raise AssertionError("no generation shard started in time")


def test_slurm_sharded_run_survives_scancel_and_equals_local(tmp_path: Path, local_baseline: Path) -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(f"no test Slurm cluster: {reason}")
    experiment = _experiment(tmp_path, {"slurm": {"poll_s": 2}})
    rundir = tmp_path / "run"
    cmd = _run_cmd(experiment, rundir, "--executor", "slurm", "--shards", "2")
    with slurm_cluster(tmp_path / "slurm"):
        with (tmp_path / "first.log").open("w") as log:
            proc = subprocess.Popen(cmd, env=_env(), stdout=log, stderr=subprocess.STDOUT)
            try:
                sidecar = _wait_for_running_shard(rundir, proc)
                stage = f"generate/{sidecar.parent.name}"
                shard = int(sidecar.name.split(".shard-")[1].split("-of-")[0])
                job_id = next(
                    r["job_id"]
                    for r in reversed(_ledger(rundir))
                    if r["stage"] == stage and r["shard"] == shard and r["event"] == "submitted"
                )
                subprocess.run(["scancel", job_id], check=True, env=_env())
                assert proc.wait(timeout=RUN_TIMEOUT_S) == 1, (tmp_path / "first.log").read_text()[-3000:]
            finally:
                if proc.poll() is None:
                    proc.kill()
        first = _ledger(rundir)
        assert {"stage": stage, "shard": shard, "event": "failed"}.items() <= next(
            r for r in first if r["job_id"] == job_id and r["event"] == "failed"
        ).items()
        assert "job(s) failed" in (tmp_path / "first.log").read_text()
        second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        assert second.returncode == 0, second.stderr[-3000:]
    finished = {(r["stage"], r["shard"]) for r in first if r["event"] == "finished"}
    # paths and distill ran as two shards each too, and were done before generation started
    assert {(s, i) for s in ("paths", "distill/rt", "distill/fs1") for i in (0, 1)} <= finished, finished
    resubmitted = [
        (r["stage"], r["shard"]) for r in _ledger(rundir)[len(first) :] if r["event"] == "submitted"
    ]
    assert (stage, shard) in resubmitted
    assert not set(resubmitted) & finished, "a finished job was submitted again"
    assert all(s.startswith("generate/") for s, _ in resubmitted), resubmitted
    _assert_every_key_once(rundir, local_baseline)
    assert _rows(rundir) == _rows(local_baseline)


def test_ray_sharded_run_survives_a_killed_worker_and_equals_local(
    tmp_path: Path, local_baseline: Path
) -> None:
    pytest.importorskip("ray")
    experiment = _experiment(tmp_path, {"ray": {"address": "local", "max_retries": 3}})
    rundir = tmp_path / "run"
    # The upstream stages are the baseline's (the Slurm test runs those remotely): Ray runs the generation shards.
    shutil.copytree(
        local_baseline, rundir, ignore=shutil.ignore_patterns("generate", "score", "results.parquet")
    )
    cmd = _run_cmd(experiment, rundir, "--executor", "ray", "--shards", "2")
    # The private cluster's session folder goes where the test removes it (Ray's default, /tmp/ray, would keep it);
    # a short path: Ray's socket paths must fit in 107 bytes. Its token is given, so that Ray writes none into
    # ~/.ray/auth_token (which would turn on token authentication for every later `ray start` on this machine).
    ray_tmp = Path(tempfile.mkdtemp(prefix="fs1-rt-", dir="/tmp"))
    ray_env = {"RAY_TMPDIR": str(ray_tmp), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    with (tmp_path / "ray.log").open("w") as log:
        proc = subprocess.Popen(cmd, env={**_env(), **ray_env}, stdout=log, stderr=subprocess.STDOUT)
        try:
            sidecar = _wait_for_running_shard(rundir, proc)
            worker = json.loads(sidecar.read_text())["pid"]
            part = sidecar.with_name(sidecar.name.removesuffix(".running"))
            assert not part.with_name(part.name + ".done").exists()  # mid-task: the shard has not finished
            os.kill(worker, signal.SIGKILL)  # a Ray worker process this run's local cluster started
            assert proc.wait(timeout=RUN_TIMEOUT_S) == 0, (tmp_path / "ray.log").read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
            shutil.rmtree(ray_tmp, ignore_errors=True)
    attempts = [r for _, r in read_jsonl_rows(sidecar.parent / ".attempts.jsonl") if r["job"] == part.name]
    assert [a["pid"] for a in attempts][0] == worker and len(
        {a["pid"] for a in attempts}
    ) == 2  # Ray retried it
    _assert_every_key_once(rundir, local_baseline)
    assert _rows(rundir) == _rows(local_baseline)
