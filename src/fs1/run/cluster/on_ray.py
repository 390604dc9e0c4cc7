"""The Ray executor: one Ray core task per job on an existing cluster (or a local one with ``address: local``).

Ray retries a task whose worker process or node died (``max_retries``); the retried job resumes from the records
it had already written. A job that raises is not retried: its error is reported and a re-run resumes it.

The address is checked before anything runs: ``ray.init`` on an address where no cluster answers retries for
minutes, so fs1 first opens a TCP connection to it (what ``auto`` stands for is looked up as Ray does: ``RAY_ADDRESS``,
then the cluster last started on this machine) with a deadline of ``PROBE_TIMEOUT_S`` and stops with one line if
nothing answers. ``ray://HOST:PORT`` (Ray Client) needs ``grpcio``, which the ``cluster`` extra installs
(``ray[client]``); without it the address is refused naming that fix.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.redact import register_secret
from fs1.run.cluster.executors import Job, JobCall, JobFailure, Ledger, last_error_line
from fs1.run.config import RaySpec

PROBE_TIMEOUT_S = 5.0
# The Ray Client proxy starts one server process per connecting client. When that process fails to start, the proxy
# answers the handshake with an error and frees the port; a second handshake gets a fresh process on another port.
# With grpcio >= 1.81 on the head such a start fails now and then: the forked child crashes before exec
# (grpc/grpc#43055; `GRPC_ENABLE_FORK_SUPPORT=false` in the head's environment avoids it). A repeated failure is
# reported as it is.
CLIENT_ATTEMPTS = 2
# What the proxy answers when the per-client server it started is gone or unreachable (ray/util/client/server/proxier.py).
SERVER_START_FAILURES = ("Starting Ray client server failed", "Proxy failed to Connect to backend")
CLIENT_PREFIX = "ray://"
ADDRESS_KEY = "executor.ray.address"


def _server_side_start_failure(why: str) -> bool:
    return any(failure in why for failure in SERVER_START_FAILURES)


def ray_target(address: str) -> str | None:
    """The ``HOST:PORT`` (or ``ray://HOST:PORT``) that ``ray.init(address)`` would connect to; None for ``local``
    (a private cluster is started) or when Ray's own lookup is not available to ask."""
    if address == "local":
        return None
    if address != "auto":
        return address
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    try:
        from ray._private.services import get_ray_address_from_environment  # what ray.init("auto") reads
    except ImportError:
        return None
    try:
        found = get_ray_address_from_environment("auto", None)
    except ConnectionError:
        raise ConfigError(
            f"{ADDRESS_KEY} auto: no Ray cluster runs on this machine and RAY_ADDRESS is not set; start one "
            "(`ray start --head`), give its HOST:PORT, or use `local` for a private one"
        ) from None
    return None if found in (None, "auto") else str(found)


def register_ray_token() -> None:
    """The cluster's token (token authentication) is masked wherever it would turn up: in the environment, or in
    the file Ray reads it from."""
    register_secret(os.environ.get("RAY_AUTH_TOKEN"))
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    with contextlib.suppress(OSError, UnicodeDecodeError):  # no token file: nothing more to mask
        register_secret(Path(path).read_text(encoding="utf-8").strip() or None)


def probe_ray_address(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """One line (``ConfigError``) unless something answers at the Ray address within ``timeout_s`` seconds."""
    target = ray_target(address)
    if target is None:
        return
    client = target.startswith(CLIENT_PREFIX)
    host, _, port = target.removeprefix(CLIENT_PREFIX).rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"{ADDRESS_KEY} {address!r}: expected auto, local, HOST:PORT or ray://HOST:PORT, got {target!r}"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        why = (
            f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        )
        raise ConfigError(
            f"no Ray cluster at {target} ({why}): start it (`ray start --head`) or fix {ADDRESS_KEY}"
        ) from None
    if client and importlib.util.find_spec("grpc") is None:
        raise ConfigError(
            f"{ADDRESS_KEY} {target}: ray:// (Ray Client) needs grpcio: pip install 'ray[client]' (or fs1's cluster "
            "extra: pip install 'fs1[cluster]'), or give the cluster's HOST:PORT"
        )


def _run_job(call: JobCall) -> None:
    call()


class RayExecutor:
    name = "ray"
    remote = True

    def __init__(self, spec: RaySpec) -> None:
        self.spec = spec
        probe_ray_address(spec.address)  # before any stage runs: an unreachable cluster is one line, at once

    @classmethod
    def from_spec(cls, rundir: Path, spec: Any) -> RayExecutor:
        return cls(spec.ray)

    def connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        register_ray_token()
        for attempt in range(1, CLIENT_ATTEMPTS + 1):
            try:
                # "local" always starts a private cluster; "auto" and addresses join an existing one.
                ray.init(address=self.spec.address, log_to_driver=True, configure_logging=False)
                return
            except ConnectionError as exc:
                if not self.spec.address.startswith(CLIENT_PREFIX):
                    raise
                why = last_error_line(str(exc))
                if attempt < CLIENT_ATTEMPTS and _server_side_start_failure(why):
                    print(
                        f"{ADDRESS_KEY} {self.spec.address}: {why}; connecting again",
                        file=sys.stderr,
                        flush=True,
                    )
                    continue
                raise self._client_error(why) from None

    def _client_error(self, why: str) -> ConfigError:
        # The port answered (probe_ray_address), the Ray Client handshake did not. A handshake that times out is
        # most often a head with token authentication (`ray start` turns it on where ~/.ray/auth_token exists) and
        # a client without; any other failure is the server's, named by its last line.
        hint = (
            "; a cluster with token authentication needs RAY_AUTH_MODE=token here and its token (RAY_AUTH_TOKEN, "
            "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)"
            if "connection timeout" in why
            else ""
        )
        return ConfigError(f"{ADDRESS_KEY} {self.spec.address}: Ray Client could not connect ({why}){hint}")

    def run(self, jobs: list[Job], ledger: Ledger) -> list[JobFailure]:
        import ray

        self.connect()
        task = ray.remote(_run_job)
        refs = []
        for job in jobs:
            ref = task.options(
                num_cpus=job.resources.cpus,
                num_gpus=job.resources.gpus,
                max_retries=self.spec.max_retries,
                retry_exceptions=False,
                name=job.label,
            ).remote(JobCall(job.fn, job.resources.cpus))
            ledger.note(job, "submitted", ref.task_id().hex())
            refs.append((job, ref))
        try:
            return self._wait(refs, ledger)
        except KeyboardInterrupt:
            # Ctrl-C: take the tasks down too (no two writers on one shard after a re-run).
            for job, ref in refs:
                ray.cancel(ref, force=True)
                ledger.note(job, "failed", ref.task_id().hex(), "cancelled: fs1 run was interrupted")
            raise

    def _wait(self, refs: list, ledger: Ledger) -> list[JobFailure]:  # noqa: ANN001
        import ray

        failures = []
        for job, ref in refs:
            try:
                ray.get(ref)
            except ray.exceptions.RayError as exc:
                error = last_error_line(str(exc))
                ledger.note(job, "failed", ref.task_id().hex(), error)
                failures.append(JobFailure(job, ref.task_id().hex(), error))
            else:
                ledger.note(job, "finished", ref.task_id().hex())
        return failures
