"""The scoring pool's workers (issue 31, item 5): as many as the usable cores, a dead one fails the run with one line,
and the benchmark is shared with them, not copied into each.

These tests start worker processes; each finishes in seconds, and a pytest timeout stops a hang (the bug they guard
against: ``multiprocessing.Pool`` waited for ever for the range of a worker the OOM killer had ended).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fs1 import cores
from fs1.cli.main import app
from fs1.records import Question
from fs1.scoring import batches, workers
from fs1.scoring.score import score_file

QUESTION = Question(ID="q0", question="?", main_answers=["Tokyo"], source_of_data="cwq")


def predictions_file(path: Path, count: int) -> Path:
    """``count`` predictions of 16 samples each for questions q0, q1, ... (about 100 bytes a line)."""
    lines = [
        f'{{"id": "q{i // 16}", "sample": {i % 16}, "text": "<think>hm</think> \\\\boxed{{Tokyo}}"}}\n'
        for i in range(count)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def benchmark(count: int, gold_chars: int = 8) -> dict[str, Question]:
    return {
        f"q{i}": Question(
            ID=f"q{i}", question="?", main_answers=["Tokyo", f"{i:0{gold_chars}d}"], source_of_data="cwq"
        )
        for i in range(count)
    }


def write_cgroups(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_cgroup_v2_quota_of_the_group_and_its_ancestors(tmp_path: Path) -> None:
    root = write_cgroups(
        tmp_path,
        {"cpu.max": "max 100000\n", "job/cpu.max": "250000 100000\n", "job/step/cpu.max": "max 100000\n"},
    )
    assert cores.cgroup_cpu_quota(root, "0::/job/step\n") == 2.5
    assert cores.cgroup_cpu_quota(root, "0::/\n") is None  # "max": no quota
    assert cores.cgroup_cpu_quota(root, "0::/elsewhere\n") is None  # a group not mounted here: the root's


def test_cgroup_v1_quota_from_the_cpu_controller(tmp_path: Path) -> None:
    root = write_cgroups(
        tmp_path,
        {
            "cpu,cpuacct/slurm/cpu.cfs_quota_us": "300000\n",
            "cpu,cpuacct/slurm/cpu.cfs_period_us": "100000\n",
            "cpu,cpuacct/slurm/job/cpu.cfs_quota_us": "-1\n",
            "cpu,cpuacct/slurm/job/cpu.cfs_period_us": "100000\n",
        },
    )
    membership = "5:memory:/slurm/job\n4:cpu,cpuacct:/slurm/job\n1:name=systemd:/\n"
    assert cores.cgroup_cpu_quota(root, membership) == 3.0


def test_usable_cores_are_the_affinity_bounded_by_the_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    monkeypatch.setattr(cores, "CGROUP_ROOT", write_cgroups(tmp_path, {"cpu.max": "150000 100000\n"}))
    monkeypatch.setattr(
        cores, "PROC_CGROUP", write_cgroups(tmp_path, {"self-cgroup": "0::/\n"}) / "self-cgroup"
    )
    assert cores.usable_cores() == 2  # 1.5 cores of quota: two may run, each part of the time
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cores.usable_cores() == 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert cores.usable_cores() == 1


def test_more_workers_than_cores_are_capped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "usable_cores", lambda: 2)
    assert workers.capped_workers(0) == (2, None)
    assert workers.capped_workers(1) == (1, None)
    count, note = workers.capped_workers(20)
    assert count == 2 and note == "--workers 20 capped at 2: the CPU cores this process may use"
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps(QUESTION.to_dict()) + "\n", encoding="utf-8")
    predictions = predictions_file(tmp_path / "p.jsonl", 16)
    result = CliRunner().invoke(
        app,
        [
            "score",
            str(predictions),
            "--benchmark",
            str(bench),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "note: --workers 20 capped at 2" in " ".join(result.output.split())


def test_scoring_uses_no_more_processes_than_usable_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "usable_cores", lambda: 1)
    monkeypatch.setattr(batches, "RANGE_BYTES", 1024)
    seen: list[int] = []
    path = predictions_file(tmp_path / "p.jsonl", 320)
    score_file(
        path,
        benchmark(20),
        tmp_path / "out",
        workers=8,
        progress=lambda n: seen.append(len(multiprocessing.active_children())),
    )
    assert seen and max(seen) == 0  # one core: scored in this process


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_run_fails_the_run_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "usable_cores", lambda: 2)
    monkeypatch.setattr(
        batches, "RANGE_BYTES", 1024
    )  # hundreds of ranges: most are still to come after the kill
    path = predictions_file(tmp_path / "p.jsonl", 4000)
    killed: list[int] = []

    def kill_one_worker(scored: int) -> None:
        children = multiprocessing.active_children()
        if children and not killed:  # as the out-of-memory killer would
            killed.append(children[0].pid)
            os.kill(children[0].pid, signal.SIGKILL)

    with pytest.raises(
        workers.WorkerDiedError, match=r"p\.jsonl: a scoring worker process died .* nothing was written"
    ):
        score_file(path, benchmark(250), tmp_path / "out", workers=2, progress=kill_one_worker)
    assert killed and not (tmp_path / "out" / "scores.jsonl").exists()
    assert not multiprocessing.active_children()  # the other worker was ended too


# Run in a fresh interpreter, as `fs1 score` runs: a thread some other test left running here would (rightly) make
# the pool spawn its workers, each with its own copy of the gold answers.
SHARING_PROBE = """
import multiprocessing, sys
from pathlib import Path
from fs1.records import Question
from fs1.scoring import batches, workers
from fs1.scoring.score import score_file

def private_megabytes(pid):
    rows = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    fields = dict(row.split(":", 1) for row in rows)
    return sum(int(fields[name].split()[0]) for name in ("Private_Clean", "Private_Dirty")) / 1024

if __name__ == "__main__":
    workers.usable_cores = lambda: 2
    batches.RANGE_BYTES = 1024
    questions = {  # gold answers alone: about 60 MB in this process
        f"q{i}": Question(ID=f"q{i}", question="?", main_answers=["Tokyo", f"{i:0600d}"]) for i in range(100_000)
    }
    private = []
    progress = lambda n: private.extend(map(private_megabytes, (c.pid for c in multiprocessing.active_children())))
    score_file(sys.argv[1], questions, sys.argv[2], workers=2, progress=progress)
    print(max(private))
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc/PID/smaps_rollup")
@pytest.mark.timeout(180)
def test_workers_share_the_benchmark_instead_of_each_holding_a_copy(tmp_path: Path) -> None:
    path = predictions_file(tmp_path / "p.jsonl", 800)  # for 50 of the questions
    probe = subprocess.run(
        [sys.executable, "-c", SHARING_PROBE, str(path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    # A worker that unpickled its own copy of the gold answers would hold 60 MB and more of its own.
    assert float(probe.stdout) < 30, probe.stdout
