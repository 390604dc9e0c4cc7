"""Configuration and summary of a distillation run: which traces to make (``DistillConfig``) and what a run did
(``DistillSummary``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, ConfigDict, Field, model_validator

from fs1.backends import AUTO, SamplingParams
from fs1.backends.embedded import EMBEDDED_NAME
from fs1.backends.ref import BackendChoice, ModelRef, refuse_server_settings, role_backend
from fs1.config import Sampling
from fs1.distill.accounting import Usage
from fs1.seeding import DEFAULT_SEED
from fs1.vocab import TraceMode

WEAK_TEACHER_NOTE = (
    f"{EMBEDDED_NAME} is a 135M-parameter offline stand-in teacher: its traces are weak and mostly wrong, good for "
    "exercising the pipeline only. Use a reasoning teacher (DeepSeek-R1, QwQ-32B) through --base-url for real data."
)


class DistillConfig(Sampling, ModelRef):
    """Everything that decides which traces a distillation run makes: the teacher (a ``ModelRef``), its sampling
    (unset fields take the ``teacher`` preset, ``SAMPLING_PRESET``: T 0.6, top-p 0.95, no top-k, no repetition
    penalty, 8192 tokens) and the run's own settings."""

    # The teacher samples as DeepSeek-R1 advises; hosted reasoning APIs take no top-k nor repetition penalty.
    SAMPLING_PRESET: ClassVar[str] = "teacher"

    model_config = ConfigDict(extra="forbid")

    mode: TraceMode = Field("rt", description="rt: plain question; fs1: question + KG paths.")
    model: str = Field(
        EMBEDDED_NAME,
        validation_alias=AliasChoices("model", "teacher"),
        description="Teacher model (server model id, hub id, path, short name).",
    )
    backend: BackendChoice = role_backend(
        AUTO,
        "a teacher is a served reasoning model given by its URL, or the model a local file or name needs",
    )
    samples: int = Field(1, ge=1, description="Traces per question.")
    no_path: Literal["rt", "skip"] = Field(
        "rt", description="fs1 mode, question without path: rt prompt or skip."
    )
    concurrency: int = Field(
        4, ge=1, description="Requests in flight at once (remote teachers; local runs use 1)."
    )
    batch_size: int = Field(1, ge=1, description="Units per backend call (batching for local/vLLM teachers).")
    seed: int = Field(
        DEFAULT_SEED,
        description="Run seed; each (question, sample) draws with derive_seed(seed, 'distill', id, sample).",
    )
    system_prompt: str | None = Field(None, description="Optional system message (the paper sends none).")
    on_error: Literal["record", "abort"] = Field(
        "record", description="A unit failing after retries: record/abort."
    )
    price_in: float | None = Field(None, ge=0, description="Price per 1M prompt tokens, for the cost total.")
    price_out: float | None = Field(
        None, ge=0, description="Price per 1M completion tokens, for the cost total."
    )
    max_failures_in_a_row: int = Field(
        20, ge=0, description="Stop when this many units fail in a row (server down, bad config); 0 = never."
    )
    stream: bool = Field(False, description="openai backend: stream replies (long reasoning, idle proxies).")
    api_key_env: str | None = Field(None, description="openai backend: env variable holding the API key.")

    @property
    def teacher(self) -> str:
        """The teacher model (``model``; the name ``fs1 distill --teacher`` and earlier versions use)."""
        return self.model

    @model_validator(mode="after")
    def _server_settings(self) -> DistillConfig:
        if not self.info().remote:
            refuse_server_settings(self, ("stream", "api_key_env"), self.resolved_backend())
        return self

    def teacher_ref(self) -> ModelRef:
        """The teacher's reference with the run's server settings (a remote teacher gets an HTTP pool as large as
        the concurrency bound; options given explicitly win)."""
        if not self.info().remote:
            return self.ref()
        server: dict[str, Any] = {"concurrency": self.concurrency, "stream": self.stream}
        if self.api_key_env:
            server["api_key_env"] = self.api_key_env
        return self.ref().model_copy(update={"options": {**server, **self.options}})

    def resolved(self) -> DistillConfig:
        """These settings with the unset sampling fields taken from the teacher preset."""
        return self.resolve(self.SAMPLING_PRESET)

    def sampling_params(self, seed: int | None = None) -> SamplingParams:
        """The teacher's sampling parameters (per-unit seeds travel separately, see ``fs1.seeding``)."""
        return SamplingParams.of(self.resolved(), seed=seed)


@dataclass
class DistillSummary:
    """What one run did, plus the label rates of the whole output file. ``engine``: the teacher's engine as its
    backend describes it (a server's kind, version, model and context; ``fs1.stage.not_described`` when no unit was
    left to ask, so no teacher was opened), read before the first request."""

    teacher: str
    mode: str
    backend: str
    planned: int = 0
    already_done: int = 0
    written: int = 0
    failed: int = 0
    skipped_no_path: int = 0
    flagged_no_path: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    wall_s: float = 0.0
    file_traces: int = 0
    file_valid: int = 0
    file_correct: int = 0
    note: str | None = None
    errors_path: str | None = None
    engine: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
