"""Generation backends behind one interface (``base.Backend``), registered by lazy import strings with what each can
do, so that no code outside this package tells backends apart by name.

Heavy libraries (torch, llama_cpp, vllm, openai) load only when their backend is chosen; an options model loads
when a model reference on its backend is checked (``ref.ModelRef``), which is when an experiment file is read.
Adding a backend: its module (the class, and its options model where the module is light), one ``BACKENDS`` entry,
and its optional library as an extra in pyproject.toml.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from fs1.backends.base import Backend, BackendError, Completion, SamplingParams, Sequence
from fs1.errors import ConfigError, validation_message

if TYPE_CHECKING:
    from pydantic import BaseModel

    from fs1.backends.ref import ModelRef


@dataclass(frozen=True)
class BackendInfo:
    """One backend: where its class and options model are, and what it can do."""

    cls: str  # "module:Class", imported when the backend is opened
    options: str  # "module:Model" of its options, imported when a reference to it is checked
    remote: bool  # talks to a server over HTTP: takes base_url and tokenizer, needs no GPU of its own
    gpu: bool  # computes on a local GPU when the job has one (cluster jobs ask for GPUs for it)
    # The backend that runs a checkpoint fs1 fine-tuned from a model on this one (None: this backend itself);
    # llama.cpp reads GGUF files only, and a tuned student is saved as a Hugging Face checkpoint.
    checkpoints_on: str | None = None
    # Its option that shards the model over the GPUs of one job (None: one device per job).
    tensor_parallel_option: str | None = None
    extra: str | None = None  # the pip extra that installs its library


BACKENDS: dict[str, BackendInfo] = {
    "transformers": BackendInfo(
        "fs1.backends.hf:TransformersBackend", "fs1.backends.options:TransformersOptions", remote=False, gpu=True
    ),
    "llamacpp": BackendInfo(
        "fs1.backends.llamacpp:LlamaCppBackend", "fs1.backends.options:LlamaCppOptions", remote=False,
        gpu=False, checkpoints_on="transformers", extra="fs1[llamacpp]",
    ),
    "vllm": BackendInfo(
        "fs1.backends.vllm:VLLMBackend", "fs1.backends.vllm_engine:VLLMOptions", remote=False, gpu=True,
        tensor_parallel_option="tensor_parallel_size", extra="fs1[vllm]",
    ),
    "openai": BackendInfo(
        "fs1.backends.openai.compat:OpenAIBackend", "fs1.backends.openai.compat:OpenAIOptions", remote=True,
        gpu=False,
    ),
}  # fmt: skip
# What `backend: auto` stands for: a server where a URL is given, llama.cpp for the embedded GGUF, else transformers.
AUTO = "auto"
AUTO_WITH_URL = "openai"
AUTO_EMBEDDED = "llamacpp"
AUTO_OTHERWISE = "transformers"


def backend_info(name: str) -> BackendInfo:
    """The registry entry of backend ``name``; a ``ConfigError`` naming the backends for any other name."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)} or {AUTO}")
    return BACKENDS[name]


def remote_backends() -> list[str]:
    """The backends that talk to a server (named in errors about server-only settings)."""
    return [name for name, info in BACKENDS.items() if info.remote]


def options_model(name: str) -> type[BaseModel]:
    """The options model of backend ``name`` (its module is light: no engine library is imported)."""
    return _load(backend_info(name).options)


def _load(target: str) -> Any:
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


@overload
def load_backend(ref: ModelRef, **runtime: Any) -> Backend: ...
@overload
def load_backend(ref: str, model: str, **options: Any) -> Backend: ...
def load_backend(ref: ModelRef | str, model: str | None = None, **kwargs: Any) -> Backend:
    """Open the backend a model reference names, with its checked options: the one way fs1 opens a model.
    ``runtime`` objects that are no settings (an injected ``sleep``) go to the backend class as they are.

    ``load_backend("vllm", "model/id", seed=3)`` is shorthand for the reference with those options (``base_url`` and
    ``tokenizer`` go to its fields; names its options model does not know are runtime objects)."""
    from pydantic import ValidationError

    from fs1.backends.ref import ModelRef

    runtime = kwargs
    if isinstance(ref, str):
        known = options_model(ref).model_fields if ref in BACKENDS else kwargs
        fields = {name: kwargs.pop(name) for name in ("base_url", "tokenizer") if name in kwargs}
        options = {name: value for name, value in kwargs.items() if name in known}
        runtime = {name: value for name, value in kwargs.items() if name not in known}
        try:
            ref = ModelRef(model=str(model), backend=ref, options=options, **fields)
        except ValidationError as exc:
            raise ConfigError(validation_message(exc, prefix="")) from None
    return backend_class(ref.resolved_backend())(ref.model, **ref.engine_options(), **runtime)


def check_sampling(name: str, params: SamplingParams) -> None:
    """Backend ``name``'s own check of ``params``, before anything is loaded (``Backend.check_sampling``)."""
    backend_class(name).check_sampling(params)


def backend_class(name: str) -> type[Backend]:
    """The class of backend ``name`` (its module imported; the engine library loads only when it is opened)."""
    info = backend_info(name)
    try:
        return _load(info.cls)
    except ImportError as exc:
        if (exc.name or "").startswith("fs1"):
            raise  # our own import bug, not a missing optional library
        hint = f" (install it with: pip install '{info.extra}')" if info.extra else ""
        raise BackendError(
            f"backend {name!r} needs a library that is not installed: {exc.name}{hint}"
        ) from exc


__all__ = [
    "BACKENDS", "Backend", "BackendError", "BackendInfo", "Completion", "SamplingParams", "Sequence",
    "backend_class", "backend_info", "check_sampling", "load_backend", "options_model", "remote_backends",
]  # fmt: skip
