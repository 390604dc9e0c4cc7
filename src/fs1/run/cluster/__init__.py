"""Where a run's heavy stages go: executors (local, Slurm through submitit, Ray), the resources of a job, and
``fs1 plan``'s packing of jobs onto nodes.

Executors are registered by lazy import strings, like the backends: submitit and Ray load only when chosen. An
executor class takes ``(rundir, executor spec)``; adding one is a module here and a line in ``EXECUTORS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError

EXECUTORS: dict[str, str] = {
    "local": "fs1.run.cluster.executors:LocalExecutor",
    "slurm": "fs1.run.cluster.on_slurm:SlurmExecutor",
    "ray": "fs1.run.cluster.on_ray:RayExecutor",
}


def make_executor(kind: str, rundir: Path, spec: Any) -> Any:
    """The executor called ``kind`` configured from the experiment's ``executor`` section."""
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; expected {', '.join(EXECUTORS)}")
    module, name = EXECUTORS[kind].split(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        if (exc.name or "").startswith("fs1"):
            raise
        raise ConfigError(
            f"executor {kind!r} needs {exc.name}, which is not installed: pip install 'fs1[cluster]'"
        ) from None
    return cls.from_spec(rundir, spec)
