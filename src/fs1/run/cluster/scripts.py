"""``fs1 plan --dry-run DIR``: the run's jobs as files to review and submit by hand.

Every job is one command, ``fs1 run RUNDIR/experiment.yaml --out RUNDIR --only STAGE [--shard I/N]`` — the same code
path as a job of ``fs1 run --executor slurm``, so a hand-submitted job writes the records ``fs1 run`` would.
``jobs.txt`` lists them wave by wave (run them in that order, each wave after the one before has ended, and the run
is done); each wave's GPU jobs are packed onto whole nodes, one sbatch script per node with one
``CUDA_VISIBLE_DEVICES`` lane per job; its CPU jobs (GPUs 0) are one array script per stage; ``submit.sh`` submits the
waves in order, each held until the one before succeeded (``--dependency=afterok``).
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from fs1.run.cluster.plan import Placement, PlannedJob, pack
from fs1.run.cluster.resources import resolve_resources
from fs1.run.config import Experiment


def job_command(rundir: Path, job: PlannedJob, shard: str | None = None) -> str:
    """The command of one job (``shard``: text in place of ``I/N``, e.g. an array task's variable)."""
    args = ["fs1", "run", str(rundir / "experiment.yaml"), "--out", str(rundir), "--only", job.stage]
    if job.shard is not None or shard is not None:
        args += ["--shard", shard or f"{job.shard}/{job.shards}"]
    return shlex.join(args) if shard is None else shlex.join(args[:-1]) + f" {shard}"


def _resources(exp: Experiment, job: PlannedJob):  # noqa: ANN202
    return resolve_resources(exp.executor, job.kind, job.model or None, None)


def _header(exp: Experiment, job: PlannedJob, name: str, rundir: Path, lines: list[str]) -> list[str]:
    res = _resources(exp, job)
    header = ["#!/bin/bash", f"#SBATCH --job-name={name}", *lines]
    header.append(f"#SBATCH --output={rundir / '.jobs' / 'plan'}/%x-%j.out")
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(res, key):
            header.append(f"#SBATCH --{key}={getattr(res, key)}")
    return header + [f"#SBATCH {line}" for line in res.sbatch]


def node_script(exp: Experiment, placement: Placement, number: int, wave: int, rundir: Path) -> str:
    """One packed node of a wave: jobs start in planned order, each on its own GPUs once the jobs that held those
    GPUs before it have ended; the script fails when one of its jobs failed."""
    node = placement.nodes[number]
    first = node.placed[0].job
    res = _resources(exp, first)
    used = sorted({g for p in node.placed for g in p.gpus})
    minutes = max(res.time_min, math.ceil(node.end * 60 * 1.25))  # a quarter on top of the estimate
    lines = [
        "#SBATCH --nodes=1",
        f"#SBATCH --gpus-per-node={len(used)}",
        f"#SBATCH --cpus-per-task={max(res.cpus, len(used) * 4)}",
        f"#SBATCH --time={minutes // 60}:{minutes % 60:02d}:00",
        "#SBATCH --exclusive",  # the pack is sized to the node: take all of it, memory included
        "#SBATCH --mem=0",
    ]
    body = ["set -uo pipefail", "failed=0", f"# estimated {node.end:.2f} h; jobs start in planned order"]
    holder: dict[int, int] = {}  # GPU → index of the job last started on it
    for index, placed in enumerate(sorted(node.placed, key=lambda p: (p.start, p.gpus))):
        before = sorted({holder[g] for g in placed.gpus if g in holder})
        devices = ",".join(str(g) for g in placed.gpus)
        body.append(
            f"# {placed.job.label}: GPU {devices}, from {placed.start:.2f} h for {placed.job.hours:.2f} h"
        )
        if before:
            body.append(" ".join(f"wait $job{b} || failed=1;" for b in before))
        body.append(f"CUDA_VISIBLE_DEVICES={devices} {job_command(rundir, placed.job)} & job{index}=$!")
        for g in placed.gpus:
            holder[g] = index
    body += ["for pid in $(jobs -p); do wait $pid || failed=1; done", "exit $failed"]
    return "\n".join(_header(exp, first, f"fs1-w{wave}-node{number}", rundir, lines) + body) + "\n"


def array_script(exp: Experiment, jobs: list[PlannedJob], wave: int, rundir: Path) -> str:
    """The CPU jobs of one stage as one array (one task per shard)."""
    job = jobs[0]
    res = _resources(exp, job)
    lines = [
        f"#SBATCH --cpus-per-task={res.cpus}",
        f"#SBATCH --time={res.time_min // 60}:{res.time_min % 60:02d}:00",
    ]
    if res.mem_gb:
        lines.append(f"#SBATCH --mem={res.mem_gb}G")
    shard = None
    if job.shard is not None:
        lines.append(f"#SBATCH --array=0-{job.shards - 1}")
        shard = f"$SLURM_ARRAY_TASK_ID/{job.shards}"
    name = f"fs1-w{wave}-{job.stage.replace('/', '-')}"
    body = ["set -euo pipefail", job_command(rundir, job, shard)]
    return "\n".join(_header(exp, job, name, rundir, lines) + body) + "\n"


def plan_files(
    exp: Experiment, jobs: list[PlannedJob], rundir: Path, nodes: int, gpus_per_node: int
) -> dict[str, str]:
    """Every file of ``--dry-run``: ``jobs.txt``, the sbatch scripts of each wave, and ``submit.sh``."""
    files: dict[str, str] = {}
    waves = sorted({j.wave for j in jobs})
    listing = []
    submit = ["#!/bin/bash", "# Submits the waves in order; each waits for the one before to succeed.", "set -euo pipefail",
              'cd "$(dirname "$0")"', "after="]  # fmt: skip
    for wave in waves:
        in_wave = [j for j in jobs if j.wave == wave]
        listing += [f"# wave {wave}"] + [job_command(rundir, j) for j in in_wave]
        names = []
        gpu_jobs = [j for j in in_wave if j.gpus > 0]
        if gpu_jobs:
            placement = pack(gpu_jobs, nodes, gpus_per_node)
            for number, node in enumerate(placement.nodes):
                if node.placed:
                    names.append(f"wave{wave}-node{number:03d}.sbatch")
                    files[names[-1]] = node_script(exp, placement, number, wave, rundir)
        for stage in dict.fromkeys(j.stage for j in in_wave if j.gpus == 0):
            names.append(f"wave{wave}-{stage.replace('/', '-')}.sbatch")
            files[names[-1]] = array_script(exp, [j for j in in_wave if j.stage == stage], wave, rundir)
        ids = " ".join(f"$(sbatch --parsable $after {n} | cut -d';' -f1)" for n in names)
        submit += [f"ids=({ids})", 'after="--dependency=afterok:$(IFS=:; echo "${ids[*]}")"']
    submit.append(f'echo "then: fs1 run {rundir / "experiment.yaml"} --out {rundir}  (scores and reports)"')
    files["jobs.txt"] = "\n".join(listing) + "\n"
    files["submit.sh"] = "\n".join(submit) + "\n"
    return files
