"""Issue 31 item 10 without a cluster: reading Slurm's numbers, fitting resources to a partition (defaults lowered
with a note, an explicit request beyond every node an error naming both), the reasons that never clear, and
``fs1 status`` showing why a job waits. The same behaviour on a real one-node cluster: tests/run/cluster/test_slurm_limits_real.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.errors import ConfigError
from fs1.run.cluster.executors import Resources
from fs1.run.cluster.slurm_limits import (
    PartitionLimits,
    explicit_fields,
    fit_resources,
    gres_gpus,
    never_clears,
    slurm_minutes,
)
from fs1.run.config import ResourceSpec
from tests.support.cli import cli

SMALL = PartitionLimits("debug", cpus=2, mem_gb=8, gpus=0, time_min=120)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("infinite", None), ("UNLIMITED", None), ("30", 30), ("45:00", 45), ("2:00:00", 120), ("1-12:00:00", 2160),
     ("0:30:10", 31)],
)  # fmt: skip
def test_slurm_times_in_minutes(text: str, minutes: int | None) -> None:
    assert slurm_minutes(text) == minutes


def test_gpus_counted_from_gres() -> None:
    assert (
        gres_gpus("(null)") == 0
        and gres_gpus("gpu:a100:4(S:0-1)") == 4
        and gres_gpus("gpu:2,gpu:v100:2") == 4
    )
    assert gres_gpus("mps:100,gpu:1") == 1


def test_default_resources_are_lowered_to_the_partition_with_one_note() -> None:
    default = Resources(gpus=1, cpus=8, mem_gb=64, time_min=720)
    fitted, note = fit_resources(default, SMALL, explicit={}, stage="generate")
    assert fitted == Resources(gpus=0, cpus=2, mem_gb=8, time_min=120)
    assert note == (
        "note: Slurm partition debug: generate jobs get 2 CPUs instead of 8, 8 GB of memory instead of 64, no GPUs "
        "instead of 1, 120 minutes instead of 720 (the most its nodes offer)"
    )
    assert fit_resources(Resources(cpus=2, mem_gb=4, time_min=60), SMALL, {}, "paths") == (
        Resources(cpus=2, mem_gb=4, time_min=60),
        None,
    )


def test_an_explicit_request_no_node_satisfies_is_one_line_naming_request_and_limit() -> None:
    requested = {"default": ResourceSpec(cpus=1), "paths": ResourceSpec(cpus=4, mem_gb=2)}
    explicit = explicit_fields(requested, "paths")
    assert explicit == {"cpus": "executor.resources.paths.cpus", "mem_gb": "executor.resources.paths.mem_gb"}
    with pytest.raises(ConfigError) as info:
        fit_resources(Resources(cpus=4, mem_gb=2), SMALL, explicit, "paths")
    assert str(info.value) == (
        "executor.resources.paths.cpus = 4: no node of Slurm partition debug offers more than 2 CPUs; lower it or "
        "choose another partition"
    )


def test_reasons_that_never_clear() -> None:
    assert never_clears("PartitionConfig") and never_clears("ReqNodeNotAvail, UnavailableNodes:node[1-2]")
    assert never_clears("QOSMaxCpuPerJobLimit")
    for waiting in ("Priority", "Resources", "Dependency", "BeginTime", "PartitionDown"):
        assert never_clears(waiting) is None


def test_status_shows_why_a_job_is_pending(tmp_path: Path) -> None:
    run = tmp_path / "run"
    stage = run / "paths"
    stage.mkdir(parents=True)
    (stage / ".stage.json").write_text(json.dumps({"fingerprint": "x", "done": False}))
    (run / ".jobs").mkdir()
    events = [
        {"stage": "paths", "shard": None, "shards": 1, "event": "submitted", "job_id": "7", "executor": "slurm"},
        {"stage": "paths", "shard": None, "shards": 1, "event": "pending", "job_id": "7", "reason": "Resources",
         "executor": "slurm"},
    ]  # fmt: skip
    (run / ".jobs" / "ledger.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    code, output = cli("status", str(run))
    assert code == 0 and "pending (Resources)" in output, output
