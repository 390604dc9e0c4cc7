"""Resources per job: defaults derived from the model's size (the table in docs/cluster.md), overlaid with the
experiment file's ``executor.resources`` (``default`` first, then the stage's own entry)."""

from __future__ import annotations

import re
from dataclasses import replace

from fs1.backends import backend_info
from fs1.run.cluster.executors import Resources
from fs1.run.config import ExecutorSpec

_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)([bm])(?![a-z])", re.IGNORECASE)

# (largest size in billions, GPUs for generation = vLLM tensor-parallel size, GPUs for full fine-tuning,
#  CPUs per GPU job, host memory GiB) — sized for 80 GB GPUs with bf16 weights and room for the KV cache.
SIZE_TABLE: list[tuple[float, int, int, int, int]] = [
    (2.0, 1, 1, 8, 64),
    (4.0, 1, 2, 8, 96),
    (16.0, 1, 4, 8, 128),
    (40.0, 2, 8, 16, 256),
    (80.0, 4, 8, 32, 512),
    (float("inf"), 8, 8, 64, 1024),
]
TIME_MIN = {"paths": 240, "distill": 720, "train": 1440, "generate": 720, "judge": 240}


def model_size_b(model: str) -> float | None:
    """Parameters in billions read from a model id (``Qwen2.5-32B-Instruct`` → 32, ``smollm2-135m`` → 0.135)."""
    matches = _SIZE_RE.findall(model.rsplit("/", 1)[-1])
    if not matches:
        return None
    value, unit = matches[-1]
    return float(value) / (1000 if unit.lower() == "m" else 1)


def default_resources(kind: str, model: str | None, backend: str | None) -> Resources:
    """The table's row for ``model`` (an unknown size takes the ≤ 16B row); CPU-only stages get 4 cores, and so do
    models served by a backend that uses no local GPU (llama.cpp here is a CPU engine; a server computes elsewhere).
    Training always fine-tunes the HF checkpoint with transformers, whichever backend serves the student."""
    time_min = TIME_MIN.get(kind, 240)
    served_off_gpu = kind != "train" and backend is not None and not backend_info(backend).gpu
    if kind == "paths" or model is None or served_off_gpu:
        return Resources(gpus=0, cpus=4, mem_gb=16, time_min=time_min)
    size = model_size_b(model)
    row = next(r for r in SIZE_TABLE if (size if size is not None else 16.0) <= r[0])
    _, gen_gpus, train_gpus, cpus_per_gpu, mem_gb = row
    gpus = train_gpus if kind == "train" else gen_gpus
    return Resources(
        gpus=gpus, cpus=cpus_per_gpu * gpus, mem_gb=mem_gb * max(1, gpus // gen_gpus), time_min=time_min
    )


def resolve_resources(spec: ExecutorSpec, kind: str, model: str | None, backend: str | None) -> Resources:
    """Defaults for the model, then ``resources.default``, then ``resources.<kind>`` from the experiment file."""
    res = default_resources(kind, model, backend)
    for key in ("default", kind):
        override = spec.resources.get(key)  # type: ignore[call-overload]
        if override is None:
            continue
        fields = override.model_dump(exclude_none=True)
        if "sbatch" in fields:
            fields["sbatch"] = tuple(fields["sbatch"]) or res.sbatch
        res = replace(res, **fields)
    return res
