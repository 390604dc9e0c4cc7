"""Shared pytest fixtures: tiny real checkpoints for fast model tests (built once, cached across sessions)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fs1.backends.embedded import cache_root
from fs1.redact import forget_secrets
from tests.support.tiny_model import load_smollm2_tokenizer, make_scripted_model_dir, make_tiny_model_dir

pytest_plugins = ["tests.support.fixtures", "tests.support.vllm_cpu"]  # llama.cpp server; vLLM CPU engines

# Bump when the tiny checkpoints' recipe changes, so cached copies from older runs are not reused.
TINY_MODELS_VERSION = 1

# Greedy bigram script for budget-forcing tests: three thinking words, then the s1 answer marker, then end-of-turn;
# after " Wait," (its last token is ",") the words start again.
SCRIPT = {
    "\n": " one",
    " one": " two",
    " two": " three",
    " three": "<|im_start|>",
    "<|im_start|>": "answer",
    "answer": "<|im_end|>",
    ",": " one",
}


def _cached_model(name: str, build: Callable[[Path], Path]) -> Path:
    """Build a test checkpoint once into the fs1 cache (atomic rename, so parallel sessions never see half)."""
    target = cache_root() / "test-models" / f"{name}-v{TINY_MODELS_VERSION}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(tmp)
        os.replace(tmp, target)
    except OSError:
        if not (target / "config.json").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def smollm2_tokenizer():  # noqa: ANN201
    """The SmolLM2 tokenizer read from the shipped GGUF (loaded once per session)."""
    return load_smollm2_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """A tiny random Llama checkpoint with the SmolLM2 tokenizer and chat template (a real transformers dir)."""
    return _cached_model("tiny-llama", make_tiny_model_dir)


@pytest.fixture(scope="session")
def scripted_model_dir() -> Path:
    """A tiny checkpoint whose greedy output follows ``SCRIPT`` (real weights set by hand, real code paths)."""
    return _cached_model("scripted-llama", lambda path: make_scripted_model_dir(path, SCRIPT))


@pytest.fixture(autouse=True)
def _no_secrets_from_earlier_tests() -> Iterator[None]:
    """fs1.redact remembers secrets for the life of the process; one test's API key must not mask another's text."""
    yield
    forget_secrets()
