"""Generation backends behind one interface (``base.Backend``), registered by lazy import strings.

Heavy libraries (torch, llama_cpp, vllm, openai) load only when their backend is chosen.
"""

from __future__ import annotations

import importlib
from typing import Any

from fs1.backends.base import Backend, BackendError, Completion, SamplingParams, Sequence
from fs1.errors import ConfigError

BACKENDS: dict[str, str] = {
    "transformers": "fs1.backends.hf:TransformersBackend",
    "llamacpp": "fs1.backends.llamacpp:LlamaCppBackend",
    "vllm": "fs1.backends.vllm:VLLMBackend",
    "openai": "fs1.backends.openai.compat:OpenAIBackend",
}

# Optional backends are extras; a missing library raises an error naming the extra to install.
EXTRAS = {"llamacpp": "fs1[llamacpp]", "vllm": "fs1[vllm]"}


def load_backend(name: str, model: str, **kwargs: Any) -> Backend:
    """Instantiate backend ``name`` for ``model`` (a path, hub id, or short name such as ``smollm2-135m``)."""
    return backend_class(name)(model, **kwargs)


def check_sampling(name: str, params: SamplingParams) -> None:
    """Backend ``name``'s own check of ``params``, before anything is loaded (``Backend.check_sampling``)."""
    backend_class(name).check_sampling(params)


def backend_class(name: str) -> type[Backend]:
    """The class of backend ``name`` (its module imported; heavy libraries load only when it is instantiated)."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module_name, cls_name = BACKENDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if (exc.name or "").startswith("fs1"):
            raise  # our own import bug, not a missing optional library
        extra = EXTRAS.get(name)
        hint = f" (install it with: pip install '{extra}')" if extra else ""
        raise BackendError(
            f"backend {name!r} needs a library that is not installed: {exc.name}{hint}"
        ) from exc
    return getattr(module, cls_name)


__all__ = [
    "BACKENDS", "Backend", "BackendError", "Completion", "SamplingParams", "Sequence", "backend_class",
    "check_sampling", "load_backend",
]  # fmt: skip
