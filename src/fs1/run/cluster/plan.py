"""``fs1 plan``: the generation grid as jobs, their GPUs and estimated GPU-hours, packed onto nodes.

Packing places several small-model jobs (tensor-parallel 1) on one node, each on its own GPU lane, instead of one
model per node. It is list scheduling, longest job first: each job goes where it would finish earliest — after the
jobs of an existing lane of its width, or on a new lane on a node with enough free GPUs. The estimate uses per-replica
decode rates by model size (``DECODE_RATES``, documented in docs/cluster.md) and an assumed tokens-per-sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fs1.errors import ConfigError
from fs1.generate.predictions import generation_preset
from fs1.run.cluster.resources import model_size_b, resolve_resources
from fs1.run.config import Experiment

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
# The waves of a run's heavy stages, in the order fs1 run's barriers run them: a wave starts when the one before ends.
WAVES = {"paths": 1, "distill": 2, "train": 3, "generate": 4, "judge": 5}
# Fine-tuning throughput per GPU, tokens/s, for a model of ``size`` billion parameters: 25,600 / size, at most 25,000
# (assumed; from s1's report of 26 min on 16 H100s for a 32B model over 1K examples × 5 epochs of up to 8K tokens).
TRAIN_TOKENS_S_PER_B = 25_600
TRAIN_TOKENS_S_MAX = 25_000


def decode_rate(model: str) -> float:
    """Tokens/s of one replica of ``model`` (an unknown size takes the 7–9B row)."""
    size = model_size_b(model)
    return next(rate for limit, rate in DECODE_RATES if (size if size is not None else 8.0) <= limit)


@dataclass
class PlannedJob:
    """One job of the run as ``fs1 plan`` sees it: its stage and shard, the wave it belongs to, its GPUs (0: a CPU
    job) and estimated hours."""

    stage: str
    model: str
    gpus: int
    hours: float
    shard: int | None = None
    shards: int = 1
    wave: int = WAVES["generate"]

    @property
    def kind(self) -> str:
        return self.stage.split("/")[0]

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
        for setting in exp.settings:
            tokens = questions * exp.generation.n * tokens_per_sample(setting, exp)
            hours = tokens / decode_rate(student.model) / 3600 / shards
            stage = f"generate/{student.name}__{setting}"
            jobs += _sharded(stage, student.model, res.gpus, hours, shards)
    return jobs


def _sharded(stage: str, model: str, gpus: int, hours: float, shards: int) -> list[PlannedJob]:
    wave = WAVES[stage.split("/")[0]]
    if shards == 1:
        return [PlannedJob(stage, model, gpus, hours, None, 1, wave)]
    return [PlannedJob(stage, model, gpus, hours, i, shards, wave) for i in range(shards)]


def train_rate(model: str) -> float:
    """Fine-tuning tokens/s per GPU (assumed, see ``TRAIN_TOKENS_S_PER_B``; an unknown size takes 8B)."""
    size = model_size_b(model)
    return min(TRAIN_TOKENS_S_MAX, TRAIN_TOKENS_S_PER_B / (size if size is not None else 8.0))


def planned_jobs(exp: Experiment, questions: int, train_questions: int | None = None) -> list[PlannedJob]:
    """Every heavy job of the run — paths, distill, train, generate, judge, each shard its own — in wave order.

    Hours are estimates for GPU jobs (decode and training rates above); a CPU job (0 GPUs: paths, a remote or
    llama.cpp model) has no estimate here (0 h)."""
    from fs1.run.stages import TRAINED_SETTINGS

    train_q = questions if train_questions is None else train_questions
    modes = [m for m in TRAINED_SETTINGS if m in exp.settings]
    jobs: list[PlannedJob] = []
    if "fs1" in modes:
        count = 1 if exp.kg.startswith("sparql:") else exp.executor.shard_count(train_q)
        jobs += _sharded("paths", "", resolve_resources(exp.executor, "paths", None, None).gpus, 0.0, count)
    teacher, shards = exp.teacher, exp.executor.shard_count(train_q)
    gpus = resolve_resources(exp.executor, "distill", teacher.model, teacher.resolved_backend()).gpus
    tokens = train_q * teacher.samples * (teacher.sampling_params().max_tokens or 0)
    hours = tokens / decode_rate(teacher.model) / 3600 / shards if gpus else 0.0
    for mode in modes:
        jobs += _sharded(f"distill/{mode}", teacher.model, gpus, hours, shards)
    for student in exp.students:
        res = resolve_resources(exp.executor, "train", student.model, student.resolved_backend())
        trained = train_q * teacher.samples * exp.train.num_train_epochs * exp.train.max_length
        hours = trained / (train_rate(student.model) * max(1, res.gpus)) / 3600 if res.gpus else 0.0
        jobs += [
            PlannedJob(f"train/{student.name}-{m}", student.model, res.gpus, hours, wave=3) for m in modes
        ]
    jobs += generation_jobs(exp, questions)
    if exp.judge is not None:
        judge = exp.judge
        gpus = resolve_resources(exp.executor, "judge", judge.model, judge.resolved_backend()).gpus
        tokens = questions * exp.generation.n * (judge.max_tokens or 8)  # verdicts are a few tokens
        hours = tokens / decode_rate(judge.model) / 3600 if gpus else 0.0
        runs = [f"{s.name}__{setting}" for s in exp.students for setting in exp.settings]
        jobs += [PlannedJob(f"judge/{run}", judge.model, gpus, hours, wave=5) for run in runs]
    return sorted(jobs, key=lambda j: j.wave)


def pack(jobs: list[PlannedJob], nodes: int, gpus_per_node: int) -> Placement:
    """List scheduling, longest job first: each job starts on the node where enough GPUs are free soonest."""
    placement = Placement([Node(gpus_per_node) for _ in range(nodes)], gpus_per_node)
    for job in sorted(jobs, key=lambda j: (-j.hours, -j.gpus, j.label)):
        if job.gpus < 1:
            raise ConfigError(f"{job.label} asks for no GPU: it is no job to pack onto GPU nodes")
        if job.gpus > gpus_per_node:
            raise ConfigError(
                f"{job.label} needs {job.gpus} GPUs, more than a node's {gpus_per_node} (--gpus-per-node)"
            )
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
