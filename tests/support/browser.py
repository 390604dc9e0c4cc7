"""Headless Chromium (Debian's ``chromium`` package) for report tests: the DOM after scripts ran, and screenshots."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

# Flags the closed network here needs: no background traffic, no sync, no first-run work.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (make setup installs Debian's chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def dump_dom(url: str) -> str:
    """The serialised DOM after the page's scripts ran."""
    return _run(["--dump-dom", url]).stdout


def screenshot(url: str, out: Path, size: str = "1280,2400") -> Path:
    _run([f"--screenshot={out}", f"--window-size={size}", url])
    return out
