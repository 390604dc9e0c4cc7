"""How many CPU cores this process may use: its CPU affinity, bounded by the CPU quota of its cgroup.

``os.cpu_count()`` counts the machine's cores; a container, a Slurm job or ``taskset`` may give a process fewer, by
affinity (``sched_getaffinity``) or by a CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), which lets
it use all cores for only part of the time. Starting a process per machine core there only adds contention.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")  # which cgroup (v2) or cgroups per controller (v1) this process is in


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, bounded by the CPU quota of its cgroup (v2 or v1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota is not None else max(1, cores)


def cgroup_cpu_quota(root: Path | None = None, membership: str | None = None) -> float | None:
    """The smallest CPU quota (in cores) of this process's cgroup and its ancestors; ``None``: no quota.

    ``membership``: the text of ``/proc/self/cgroup`` (read when not given); ``root``: where cgroups are mounted.
    """
    root = root or CGROUP_ROOT
    if membership is None:
        try:
            membership = PROC_CGROUP.read_text()
        except OSError:
            return None
    quotas = []
    for line in membership.splitlines():
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # cgroup v2: cpu.max is "max 100000" or "<quota> <period>"
            quotas += _quotas(root, group, ("cpu.max",))
        elif "cpu" in controllers.split(","):  # cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                quotas += _quotas(root / mount, group, ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
    return min(quotas) if quotas else None


def _quotas(root: Path, group: str, files: tuple[str, ...]) -> list[float]:
    """The quotas set on ``group`` and each of its ancestors under ``root`` (a container sees its own as ``/``)."""
    quotas = []
    directory = root / group.strip("/")
    while True:
        try:
            values = [(directory / name).read_text().split() for name in files]
        except OSError:
            values = []
        quota = _quota(values)
        if quota is not None:
            quotas.append(quota)
        if directory == root or root not in directory.parents:
            return quotas
        directory = directory.parent


def _quota(values: list[list[str]]) -> float | None:
    fields = [v for value in values for v in value]
    try:
        quota, period = int(fields[0]), int(fields[1])
    except (IndexError, ValueError):  # "max", absent or unreadable: no quota
        return None
    return quota / period if quota > 0 and period > 0 else None
