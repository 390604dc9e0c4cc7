"""``ModelRef``: which model, on which backend, reached how. One declaration for every role that names a model: the
students of a run, the teacher, the judge and ``fs1 generate`` each embed it (subclass it), giving the backend their
own default on purpose (``role_backend``). The CLI options ``--backend``, ``--base-url``, ``--tokenizer`` and
``--backend-option KEY=VALUE`` derive from it through ``fs1.cli.schema``.

The reference is checked where it is read (an experiment file, a command line): the backend is one of the registry's
(``fs1.backends.BACKENDS``) or ``auto``; server settings go with a remote backend only; every option is checked
against that backend's options model, so a typo fails at load, named by its key (``students.0.options.timout``),
not hours later when a cluster job opens the model.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from fs1.backends import (
    AUTO,
    AUTO_EMBEDDED,
    AUTO_OTHERWISE,
    AUTO_WITH_URL,
    BACKENDS,
    BackendInfo,
    backend_info,
    options_model,
    remote_backends,
)
from fs1.backends.embedded import is_embedded


def _known(name: str) -> str:
    if name != AUTO and name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)} or {AUTO}")
    return name


# A backend name of the registry, or `auto`; not a Literal, so that a new backend is one registry entry.
BackendChoice = Annotated[str, AfterValidator(_known)]
BACKEND_HELP = (
    f"Backend: {' | '.join(BACKENDS)} | {AUTO} ({AUTO_WITH_URL} with a base URL, {AUTO_EMBEDDED} for the embedded "
    f"model, else {AUTO_OTHERWISE})."
)
# Fields of a reference that say how the model is reached, not which model it is.
ENDPOINT_FIELDS: tuple[str, ...] = ("backend", "base_url", "tokenizer", "options")


def role_backend(default: str, why: str) -> Any:
    """The ``backend`` field of a role, with the role's default and the reason for it (shown in ``--help``)."""
    return Field(default, description=f"{BACKEND_HELP} Default here: {default} ({why}).")


class ModelRef(BaseModel):
    """A model and the backend that runs it, with the backend's options."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        ..., description="Model: a local checkpoint or GGUF, a hub id, smollm2-135m, or a served name."
    )
    backend: BackendChoice = Field(AUTO, description=BACKEND_HELP)
    base_url: str | None = Field(
        None,
        description="Server URL (…/v1) of a remote backend (openai); the API key comes from the environment.",
    )
    tokenizer: str | None = Field(
        None,
        description="Remote backend: the model's tokenizer (path, hub id, smollm2-135m) for raw prompts and counts.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("options", "backend_options"),
        description="Settings of the backend's own options model, checked at load (e.g. dtype for transformers, "
        "timeout for openai).",
        json_schema_extra={"cli": "--backend-option"},
    )

    @model_validator(mode="after")
    def _check_reference(self) -> ModelRef:
        """Server settings only for a remote backend; every option a field of the backend's options model."""
        name = self.resolved_backend()
        if not BACKENDS[name].remote:
            refuse_server_settings(self, ("base_url", "tokenizer"), name)
        twice = [
            k for k in ("base_url", "tokenizer") if getattr(self, k) not in (None, self.options.get(k, None))
        ]
        if twice and any(k in self.options for k in twice):
            raise ValueError(
                f"{', '.join(twice)} given twice, as a key and among the options, with two values"
            )
        self._checked_options(name)
        return self

    def resolved_backend(self) -> str:
        """The backend ``auto`` stands for: a server with a URL, llama.cpp for the embedded GGUF, else transformers."""
        if self.backend != AUTO:
            return self.backend
        if self.base_url:
            return AUTO_WITH_URL
        return AUTO_EMBEDDED if is_embedded(self.model) else AUTO_OTHERWISE

    def info(self) -> BackendInfo:
        """What the (resolved) backend can do."""
        return backend_info(self.resolved_backend())

    def ref(self) -> ModelRef:
        """The reference alone (a role carries more settings)."""
        return ModelRef(**{name: getattr(self, name) for name in ModelRef.model_fields})

    def engine_options(self) -> dict[str, Any]:
        """The keyword options the backend class is opened with: the options given, checked and typed, and the
        server settings of a remote backend."""
        return self._checked_options(self.resolved_backend()).model_dump(exclude_unset=True)

    def output_options(self) -> dict[str, Any]:
        """The options given that can change what the model writes (dtype, weights, threads, context, …): a stage's
        fingerprint records them, so changing one redoes the stage. Options an options model lists in its
        ``OUTPUT_NEUTRAL`` (timeouts, retries, memory shares) change only how a result is reached."""
        neutral: frozenset[str] = getattr(
            options_model(self.resolved_backend()), "OUTPUT_NEUTRAL", frozenset()
        )
        return {name: value for name, value in sorted(self.options.items()) if name not in neutral}

    def with_options(self, **extra: Any) -> ModelRef:
        """This reference with more options (a role's server settings, a job's GPU count), checked again."""
        return ModelRef(**{**self.ref().model_dump(), "options": {**self.options, **extra}})

    def for_checkpoint(self, path: str) -> ModelRef:
        """The reference that runs a checkpoint fine-tuned from this model: the same backend and options, or the
        backend that reads Hugging Face checkpoints where this one cannot (its options then do not apply)."""
        other = self.info().checkpoints_on
        if other is None:
            return self.ref().model_copy(update={"model": path, "backend": self.resolved_backend()})
        return ModelRef(model=path, backend=other)

    def _checked_options(self, name: str) -> BaseModel:
        values = dict(self.options)
        if BACKENDS[name].remote:
            values.update(
                {k: getattr(self, k) for k in ("base_url", "tokenizer") if getattr(self, k) is not None}
            )
        model = options_model(name)
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(exc.title, _option_errors(exc, name, model)) from None


def refuse_server_settings(settings: BaseModel, names: tuple[str, ...], backend: str) -> None:
    """A ``ValidationError`` at each of ``names`` that is set (not None, not False) on a local ``backend``: settings
    of a server are refused rather than ignored."""
    given = [name for name in names if getattr(settings, name) not in (None, False)]
    if not given:
        return
    remote = ", ".join(remote_backends())
    errors = [
        InitErrorDetails(
            type=PydanticCustomError(
                "server_setting", f"{name} applies to a remote backend ({remote}), not {backend!r}"
            ),
            loc=(name,),
            input=getattr(settings, name),
        )
        for name in given
    ]
    raise ValidationError.from_exception_data(type(settings).__name__, errors)


def _option_errors(exc: ValidationError, backend: str, model: type[BaseModel]) -> list[InitErrorDetails]:
    """The options model's errors, placed under ``options.<key>`` so the experiment file names the key's line."""
    errors: list[InitErrorDetails] = []
    for err in exc.errors():
        loc = err["loc"]
        where = loc if loc and loc[0] in ("base_url", "tokenizer") else ("options", *loc)
        if err["type"] == "extra_forbidden":
            message = "not an option of the {backend} backend (its options: {names})"
            names = ", ".join(model.model_fields)
            kind: Any = PydanticCustomError("backend_option", message, {"backend": backend, "names": names})
        else:
            kind = err["type"]
        errors.append(InitErrorDetails(type=kind, loc=where, input=err["input"], ctx=err.get("ctx", {})))
    return errors
