"""The cached vLLM CPU venvs (scripts/vllm_cpu_venv.py): a finished build of new requirements removes the cache's
builds of older ones (~4 GB each), and nothing it did not build."""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _builder():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import vllm_cpu_venv
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return vllm_cpu_venv


def test_a_new_build_removes_superseded_builds_only(tmp_path: Path) -> None:
    builder = _builder()
    cache = tmp_path / "vllm-cpu"
    current, old, in_use, foreign = (
        cache / name for name in ("0.32.0-new", "0.32.0-old", "0.32.0-busy", "mine")
    )
    for venv in (current, old, in_use):
        (venv / "bin").mkdir(parents=True)
        (venv / builder.STAMP).write_text("key\n")
    (foreign / "bin").mkdir(parents=True)  # no stamp: not built by the script (or a build cut short)
    with open(cache / f".{in_use.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a build of it under way in another process
        removed = builder.remove_superseded(current)
    assert removed == [old]
    assert not old.exists() and not (cache / f".{old.name}.lock").exists()
    assert current.is_dir() and in_use.is_dir() and foreign.is_dir()
