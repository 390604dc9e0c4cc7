"""Fitting jobs to a Slurm partition before they are submitted, and noticing the ones that can never start.

Before a wave is submitted, the partition's nodes are read (``sinfo``: CPUs, memory and GPUs of each node, the time
limit; ``scontrol show partition``: per-node caps): a *default* resource (derived from the model's size) larger than
any node offers is lowered to what the largest node has, with a one-line note; a resource the experiment file set
itself that no node can satisfy is a one-line error naming the request and the limit. While jobs wait, their pending
reasons (``squeue``) go to the ledger for ``fs1 status``; a reason that will not clear by waiting
(``PartitionConfig``, ``ReqNodeNotAvail`` …) cancels the wave and stops the run with it, instead of waiting for ever.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from fs1.errors import ConfigError
from fs1.run.cluster.executors import Resources

# Pending reasons that waiting does not clear: the request exceeds what the partition, QOS or account allows, or the
# nodes it needs are gone (squeue's REASON codes, Slurm 22-24).
NEVER_CLEARS = {
    "PartitionConfig": "the partition cannot give what the job asks for",
    "PartitionNodeLimit": "the job asks for more nodes than the partition allows",
    "PartitionTimeLimit": "the job's time limit is longer than the partition allows",
    "ReqNodeNotAvail": "the nodes the job needs are not available (down, drained or reserved)",
    "BadConstraints": "no node has the features the job asks for",
    "InvalidAccount": "the account is not valid",
    "InvalidQOS": "the QOS is not valid",
    "DependencyNeverSatisfied": "a dependency of the job can never be satisfied",
    "QOSMaxCpuPerJobLimit": "the job asks for more CPUs than its QOS allows",
    "QOSMaxGRESPerJob": "the job asks for more GPUs than its QOS allows",
    "QOSMaxMemoryPerJob": "the job asks for more memory than its QOS allows",
    "QOSMaxNodePerJobLimit": "the job asks for more nodes than its QOS allows",
    "QOSMaxWallDurationPerJobLimit": "the job's time limit is longer than its QOS allows",
    "AssocMaxCpuPerJobLimit": "the job asks for more CPUs than its account allows",
    "AssocMaxGRESPerJob": "the job asks for more GPUs than its account allows",
    "AssocMaxMemPerJob": "the job asks for more memory than its account allows",
    "AssocMaxNodePerJobLimit": "the job asks for more nodes than its account allows",
    "AssocMaxWallDurationPerJobLimit": "the job's time limit is longer than its account allows",
}
# Reasons every busy cluster shows: kept in the ledger, not worth a console line.
ROUTINE = {"None", "Priority", "Resources", "Dependency", "BeginTime", "JobArrayTaskLimit", "Prolog", ""}
FIELDS = (("cpus", "CPUs"), ("mem_gb", "GB of memory"), ("gpus", "GPUs"), ("time_min", "minutes"))
UNLIMITED = {"infinite", "unlimited", "none", ""}


@dataclass(frozen=True)
class PartitionLimits:
    """The most one job can get on one node of a partition; None = no limit known."""

    name: str
    cpus: int | None
    mem_gb: int | None
    gpus: int | None
    time_min: int | None


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def slurm_minutes(text: str) -> int | None:
    """Minutes of a Slurm time (``infinite``, ``30``, ``2:00:00``, ``1-12:00:00``, ``45:00``); None = unlimited."""
    text = text.strip().lower()
    if text in UNLIMITED:
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) < 3:  # MM or MM:SS
        parts = [0, *parts, 0][:3] if len(parts) == 1 else [0, *parts]
    hours, minutes, seconds = parts[:3]
    return (int(days or 0) * 24 + hours) * 60 + minutes + (1 if seconds else 0)


def gres_gpus(text: str) -> int:
    """GPUs in a node's ``Gres`` (``gpu:a100:4(S:0-1),gpu:2``, ``(null)``)."""
    total = 0
    for entry in text.split(","):
        fields = re.sub(r"\(.*?\)", "", entry).split(":")
        if fields[0] == "gpu" and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def read_limits(partition: str | None) -> PartitionLimits | None:
    """The limits of ``partition`` (None: the default one) from ``sinfo``/``scontrol``; None when Slurm cannot be
    asked (sbatch then says what is wrong). A partition that does not exist is a ``ConfigError``."""
    listing = _run(["sinfo", "-h", "-N", "-o", "%P|%c|%m|%G|%l"])
    if listing is None:
        return None
    rows = [line.split("|") for line in listing.splitlines() if line.count("|") == 4]
    default = next((r[0].rstrip("*") for r in rows if r[0].endswith("*")), None)
    name = partition or default
    mine = [r for r in rows if r[0].rstrip("*") == name]
    if not mine:
        known = sorted({r[0].rstrip("*") for r in rows})
        raise ConfigError(f"Slurm has no partition {name!r} (sinfo lists: {', '.join(known) or 'none'})")
    cpus = max(int(r[1].rstrip("+")) for r in mine)
    mem_gb = max(int(r[2].rstrip("+")) for r in mine) // 1024
    gpus = max(gres_gpus(r[3]) for r in mine)
    caps = _partition_caps(name)  # type: ignore[arg-type]
    if caps.get("MaxCPUsPerNode", "").isdigit():
        cpus = min(cpus, int(caps["MaxCPUsPerNode"]))
    if caps.get("MaxMemPerNode", "").isdigit():
        mem_gb = min(mem_gb, int(caps["MaxMemPerNode"]) // 1024)
    return PartitionLimits(name, cpus, mem_gb, gpus, slurm_minutes(mine[0][4]))  # type: ignore[arg-type]


def _partition_caps(name: str) -> dict[str, str]:
    text = _run(["scontrol", "show", "partition", name, "-o"]) or ""
    return dict(re.findall(r"(\w+)=(\S*)", text))


def fit_resources(
    res: Resources, limits: PartitionLimits, explicit: dict[str, str], stage: str
) -> tuple[Resources, str | None]:
    """``res`` within ``limits``: defaults lowered to the limit (and a note saying so), a value set in the experiment
    file (``explicit``: field → the key that set it) beyond the limit a ``ConfigError`` naming request and limit."""
    lowered: dict[str, Any] = {}
    for field, unit in FIELDS:
        want, have = getattr(res, field), getattr(limits, field)
        if want is None or have is None or want <= have:
            continue
        if field in explicit:
            raise ConfigError(
                f"{explicit[field]} = {want}: no node of Slurm partition {limits.name} offers more than {have} "
                f"{unit}; lower it or choose another partition"
            )
        lowered[field] = have if have > 0 or field == "gpus" else None  # under 1 GB: Slurm's default memory
    if not lowered:
        return res, None
    said = ", ".join(
        f"{lowered[f] or 'no'} {unit} instead of {getattr(res, f)}" for f, unit in FIELDS if f in lowered
    )
    note = f"note: Slurm partition {limits.name}: {stage} jobs get {said} (the most its nodes offer)"
    return replace(res, **lowered), note


def explicit_fields(resources: dict[str, Any], kind: str) -> dict[str, str]:
    """Resource fields the experiment file sets for jobs of ``kind`` → the key that sets them (the stage's own entry
    wins over ``default``)."""
    out: dict[str, str] = {}
    for key in ("default", kind):
        spec = resources.get(key)
        if spec is None:
            continue
        for field, _ in FIELDS:
            if getattr(spec, field, None) is not None:
                out[field] = f"executor.resources.{key}.{field}"
    return out


def pending_reasons(job_ids: Iterable[str]) -> dict[str, str]:
    """``{job id: reason}`` of the given jobs (array tasks one by one) that are still pending."""
    ids = sorted({job_id.split("_")[0] for job_id in job_ids})
    if not ids:
        return {}
    text = _run(["squeue", "-h", "-r", "-t", "PENDING", "-o", "%i|%r", "-j", ",".join(ids)]) or ""
    reasons = {}
    for line in text.splitlines():
        job_id, _, reason = line.partition("|")
        reasons[job_id.strip()] = reason.strip()
    return reasons


def never_clears(reason: str) -> str | None:
    """What a pending reason that waiting will not clear means; None for one that may clear."""
    code = reason.split(",")[0].strip()
    return NEVER_CLEARS.get(code)
