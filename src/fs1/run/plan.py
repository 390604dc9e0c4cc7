"""``fs1 plan``: the generation grid as jobs, their GPUs and estimated GPU-hours, packed onto nodes.

Packing places several small-model jobs (tensor-parallel 1) on one node, each on its own GPU lane, instead of one
model per node. It is list scheduling, longest job first: each job goes where it would finish earliest — after the
jobs of an existing lane of its width, or on a new lane on a node with enough free GPUs. The estimate uses per-replica
decode rates by model size (``DECODE_RATES``, documented in docs/cluster.md) and an assumed tokens-per-sample.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from fs1.generate.predictions import generation_preset
from fs1.run.config import Experiment
from fs1.run.resources import model_size_b, resolve_resources

# Output tokens/s of one vLLM replica (bf16, 80 GB H100-class GPUs, many concurrent sequences), by model size in
# billions. Anchor: Llama-3.1-8B ≈ 12,500 tokens/s on one H100 (published vLLM figures, see docs/cluster.md); the other
# rows are assumptions scaled from it (small models are overhead-bound, not 1/size faster). Replace with measurements.
DECODE_RATES: list[tuple[float, float]] = [
    (0.5, 40_000),
    (1.0, 32_000),
    (2.0, 25_000),
    (4.0, 18_000),
    (9.0, 12_500),
    (16.0, 6_500),
    (40.0, 4_000),
    (80.0, 2_500),
    (math.inf, 1_000),
]
# Mean output tokens per sample where no budget bounds it (assumed: short direct answers, longer step-by-step ones).
UNFORCED_TOKENS = {"instruct": 256, "cot": 512}
TRAINED = ("rt", "fs1")


def decode_rate(model: str) -> float:
    """Tokens/s of one replica of ``model`` (an unknown size takes the 7–9B row)."""
    size = model_size_b(model)
    return next(rate for limit, rate in DECODE_RATES if (size if size is not None else 8.0) <= limit)


@dataclass
class PlannedJob:
    stage: str
    model: str
    gpus: int
    hours: float
    shard: int | None = None
    shards: int = 1
    student: str = ""
    setting: str = ""

    @property
    def label(self) -> str:
        return self.stage if self.shard is None else f"{self.stage}[{self.shard}/{self.shards}]"

    @property
    def gpu_hours(self) -> float:
        return self.gpus * self.hours


@dataclass
class Placed:
    job: PlannedJob
    gpus: tuple[int, ...]  # GPU indices on the node
    start: float

    @property
    def end(self) -> float:
        return self.start + self.job.hours


@dataclass
class Node:
    """One node's GPUs: when each is next free, and the jobs placed on it."""

    gpus: int
    free: list[float] = field(default_factory=list)
    placed: list[Placed] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.free = self.free or [0.0] * self.gpus

    @property
    def end(self) -> float:
        return max((p.end for p in self.placed), default=0.0)

    def earliest(self, width: int) -> tuple[float, tuple[int, ...]]:
        """When ``width`` GPUs of this node are next free together, and which."""
        chosen = tuple(sorted(sorted(range(self.gpus), key=lambda i: (self.free[i], i))[:width]))
        return max(self.free[i] for i in chosen), chosen

    def place(self, job: PlannedJob, gpus: tuple[int, ...], start: float) -> None:
        self.placed.append(Placed(job, gpus, start))
        for i in gpus:
            self.free[i] = start + job.hours


@dataclass
class Placement:
    """Jobs on nodes: makespan and how many GPU-hours the allocation leaves idle."""

    nodes: list[Node]
    gpus_per_node: int

    @property
    def makespan(self) -> float:
        return max((node.end for node in self.nodes), default=0.0)

    @property
    def busy_gpu_hours(self) -> float:
        return sum(p.job.gpu_hours for node in self.nodes for p in node.placed)

    @property
    def idle_gpu_hours(self) -> float:
        return len(self.nodes) * self.gpus_per_node * self.makespan - self.busy_gpu_hours

    @property
    def idle_fraction(self) -> float:
        total = len(self.nodes) * self.gpus_per_node * self.makespan
        return self.idle_gpu_hours / total if total else 0.0


def tokens_per_sample(setting: str, exp: Experiment) -> int:
    """Budget-forced runs think up to the largest budget, then answer once per budget; others the assumed mean."""
    g = exp.generation
    # No max_tokens in the experiment file means the cap of the setting's preset (the paper's).
    cap = g.resolve(generation_preset(setting)).max_tokens or 0
    if setting in TRAINED and g.budgets:
        return max(g.budgets) + len(g.budgets) * g.answer_max_tokens
    if setting in TRAINED:
        return cap
    return min(cap, UNFORCED_TOKENS.get(setting, cap))


def generation_jobs(exp: Experiment, questions: int) -> list[PlannedJob]:
    """One job per (student, setting, shard) with its GPUs (the model-size table) and estimated hours."""
    shards = exp.executor.shard_count(questions)
    jobs = []
    for student in exp.students:
        res = resolve_resources(exp.executor, "generate", student.model, student.resolved_backend())
        gpus = max(1, res.gpus)
        for setting in exp.settings:
            tokens = questions * exp.generation.n * tokens_per_sample(setting, exp)
            hours = tokens / decode_rate(student.model) / 3600 / shards
            for shard in range(shards):
                stage = f"generate/{student.name}__{setting}"
                index = shard if shards > 1 else None
                jobs.append(
                    PlannedJob(stage, student.model, gpus, hours, index, shards, student.name, setting)
                )
    return jobs


def pack(jobs: list[PlannedJob], nodes: int, gpus_per_node: int) -> Placement:
    """List scheduling, longest job first: each job starts on the node where enough GPUs are free soonest."""
    placement = Placement([Node(gpus_per_node) for _ in range(nodes)], gpus_per_node)
    for job in sorted(jobs, key=lambda j: (-j.hours, -j.gpus, j.label)):
        if job.gpus > gpus_per_node:
            raise ValueError(f"{job.label} needs {job.gpus} GPUs, more than a node's {gpus_per_node}")
        start, gpus, node = min(
            ((*node.earliest(job.gpus), node) for node in placement.nodes), key=lambda c: c[0]
        )
        node.place(job, gpus, start)
    return placement


def one_model_per_node(jobs: list[PlannedJob], nodes: int, gpus_per_node: int) -> Placement:
    """The usual layout: each model's jobs in sequence on a whole node of its own (models longest first, each to
    the node free soonest); the node's other GPUs are allocated but idle."""
    by_model: dict[str, list[PlannedJob]] = {}
    for job in jobs:
        by_model.setdefault(job.model, []).append(job)
    placement = Placement([Node(gpus_per_node) for _ in range(nodes)], gpus_per_node)
    for model_jobs in sorted(by_model.values(), key=lambda js: -sum(j.hours for j in js)):
        node = min(placement.nodes, key=lambda n: n.end)
        start = node.end
        for job in model_jobs:
            node.place(job, tuple(range(job.gpus)), start)
            start += job.hours
        node.free = [start] * gpus_per_node
    return placement


GENERATION_SETTING = {"instruct": "instruct", "cot": "cot", "rt": "reasoning", "fs1": "reasoning"}


def generate_command(exp: Experiment, rundir: Path, job: PlannedJob) -> str:
    """The ``fs1 generate`` line that does what the pipeline's job for ``job`` does (same files, same seeds)."""
    student = next(s for s in exp.students if s.name == job.student)
    g = exp.generation
    trained = job.setting in TRAINED
    tuned = str(rundir / "train" / f"{student.name}-{job.setting}" / "model")
    ref = student.for_checkpoint(tuned) if trained else student.ref()
    model, backend = ref.model, ref.resolved_backend()
    args = [
        "fs1", "generate", "--benchmark", str(rundir / "benchmark" / "questions.jsonl"),
        "--out", str(rundir / job.stage / "predictions.jsonl"), "--model", model, "--backend", backend,
        "--setting", GENERATION_SETTING[job.setting], "--n", str(g.n),
        "--answer-max-tokens", str(g.answer_max_tokens), "--seed", str(exp.seed), "--resume",
    ]  # fmt: skip
    if g.max_tokens is not None:
        args += ["--max-tokens", str(g.max_tokens)]
    if trained and g.budgets:
        args += ["--budgets", ",".join(str(b) for b in g.budgets)]
    if student.base_url:
        args += ["--base-url", student.base_url]
    if job.shard is not None:
        args += ["--shard", f"{job.shard}/{job.shards}"]
    return shlex.join(args)


def sbatch_scripts(exp: Experiment, placement: Placement, rundir: Path) -> dict[str, str]:
    """One sbatch script per packed node: jobs start in planned order, each on its own GPUs, once the jobs that
    held those GPUs before it have ended."""
    scripts = {}
    for number, node in enumerate(n for n in placement.nodes if n.placed):
        res = resolve_resources(exp.executor, "generate", node.placed[0].job.model, None)
        used = sorted({g for p in node.placed for g in p.gpus})
        minutes = max(res.time_min, math.ceil(node.end * 60 * 1.25))  # a quarter on top of the estimate
        header = [
            "#!/bin/bash",
            f"#SBATCH --job-name=fs1-pack-{number}",
            "#SBATCH --nodes=1",
            f"#SBATCH --gpus-per-node={len(used)}",
            f"#SBATCH --cpus-per-task={max(res.cpus, len(used) * 4)}",
            f"#SBATCH --time={minutes // 60}:{minutes % 60:02d}:00",
            f"#SBATCH --output={rundir / '.jobs' / 'plan'}/%x-%j.out",
            "#SBATCH --exclusive",  # the pack is sized to the node: take all of it, memory included
            "#SBATCH --mem=0",
        ]
        for key in ("partition", "account", "qos", "constraint"):
            if getattr(res, key):
                header.append(f"#SBATCH --{key}={getattr(res, key)}")
        header += [f"#SBATCH {line}" for line in res.sbatch]
        body = [
            "set -uo pipefail",
            f"# estimated {node.end:.2f} h; jobs start in planned order on their own GPUs",
        ]
        holder: dict[int, int] = {}  # GPU → index of the job last started on it
        for index, placed in enumerate(sorted(node.placed, key=lambda p: (p.start, p.gpus))):
            before = sorted({holder[g] for g in placed.gpus if g in holder})
            devices = ",".join(str(g) for g in placed.gpus)
            body.append(
                f"# {placed.job.label}: GPU {devices}, from {placed.start:.2f} h for {placed.job.hours:.2f} h"
            )
            if before:
                body.append(
                    "wait "
                    + " ".join(f"$job{b}" for b in before)
                    + " || true  # a failed job is redone by the next run"
                )
            body.append(
                f"CUDA_VISIBLE_DEVICES={devices} {generate_command(exp, rundir, placed.job)} & job{index}=$!"
            )
            for g in placed.gpus:
                holder[g] = index
        body.append("wait")
        scripts[f"pack-{number:03d}.sbatch"] = "\n".join(header + body) + "\n"
    return scripts
