"""A real one-node Slurm cluster for the tests: munged, slurmctld and slurmd started as root from a generated
``slurm.conf`` with every state, spool, socket and log file under one temporary directory, stopped by PID.

Client commands (sbatch, squeue, scancel, scontrol) find the cluster through ``SLURM_CONF``, which ``start`` sets in
``os.environ`` for the test process and every process it starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def skip_reason() -> str | None:
    """Why the cluster cannot start here, or None when it can."""
    if os.geteuid() != 0:
        return "the Slurm and munge daemons must be started as root (CI runs as root)"
    missing = [tool for tool in (*DAEMONS, "sbatch", "scontrol") if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}: run scripts/install_system_deps.sh as root"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    pids: dict[str, int]

    def stop(self) -> None:
        """Stop the daemons by the PIDs they wrote (slurmd first), waiting until each has exited."""
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.get(name)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)


def _memory_mb() -> int:
    """This machine's memory in MB, as slurmd counts it (jobs asking for more are refused at submission)."""
    with open("/proc/meminfo") as fh:
        total_kb = int(next(line for line in fh if line.startswith("MemTotal:")).split()[1])
    return total_kb // 1024 - 512


def _conf(root: Path, cpus: int, hostname: str, memory_mb: int | None = None, extra: str = "") -> str:
    return f"""\
ClusterName=fs1test
SlurmctldHost={hostname}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName={hostname} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb or _memory_mb()} State=UNKNOWN
PartitionName=debug Nodes={hostname} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
{extra}"""


def _wait_for(what: str, check, timeout_s: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"the test Slurm cluster did not come up: {what}")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _node_idle(env: dict[str, str]) -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip().rstrip("*") in ("idle", "mixed", "allocated")


@contextmanager
def slurm_cluster(
    root: Path, cpus: int | None = None, memory_mb: int | None = None, extra_conf: str = ""
) -> Iterator[SlurmCluster]:
    """Start a one-node cluster under ``root``; ``SLURM_CONF`` points at it until the context closes. ``cpus`` and
    ``memory_mb`` (default: this machine's) are what the node offers.

    ``extra_conf``: more ``slurm.conf`` lines (e.g. ``SchedulerParameters=batch_sched_delay=0``)."""
    cpus = cpus or os.cpu_count() or 1
    hostname = socket.gethostname().split(".")[0]
    for sub in ("munge", "state", "spool"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    conf = root / "slurm.conf"
    conf.write_text(_conf(root, cpus, hostname, memory_mb, extra_conf))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(root, conf, {})
    previous = os.environ.get("SLURM_CONF")
    try:
        munge = root / "munge"
        subprocess.run(
            ["munged", "--force", f"--socket={munge}/munge.socket", f"--key-file={key}",
             f"--pid-file={munge}/munged.pid", f"--log-file={munge}/munged.log", f"--seed-file={munge}/seed"],
            check=True, env=env,
        )  # fmt: skip
        _wait_for("munged pid", lambda: _read_pid(munge / "munged.pid") is not None)
        cluster.pids["munged"] = _read_pid(munge / "munged.pid")  # type: ignore[assignment]
        subprocess.run(["slurmctld", "-i"], check=True, env=env)
        _wait_for("slurmctld pid", lambda: _read_pid(root / "slurmctld.pid") is not None)
        cluster.pids["slurmctld"] = _read_pid(root / "slurmctld.pid")  # type: ignore[assignment]
        subprocess.run(["slurmd"], check=True, env=env)
        _wait_for("slurmd pid", lambda: _read_pid(root / "slurmd.pid") is not None)
        cluster.pids["slurmd"] = _read_pid(root / "slurmd.pid")  # type: ignore[assignment]
        _wait_for("node idle (see slurmctld.log / slurmd.log)", lambda: _node_idle(env))
        os.environ["SLURM_CONF"] = str(conf)
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        cluster.stop()
