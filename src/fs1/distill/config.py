"""Configuration and summary of a distillation run: which traces to make (``DistillConfig``) and what a run did
(``DistillSummary``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, ConfigDict, Field

from fs1.backends import SamplingParams
from fs1.backends.embedded import EMBEDDED_NAME, is_embedded
from fs1.config import Sampling
from fs1.distill.accounting import Usage
from fs1.seeding import DEFAULT_SEED
from fs1.vocab import TraceMode

WEAK_TEACHER_NOTE = (
    f"{EMBEDDED_NAME} is a 135M-parameter offline stand-in teacher: its traces are weak and mostly wrong, good for "
    "exercising the pipeline only. Use a reasoning teacher (DeepSeek-R1, QwQ-32B) through --base-url for real data."
)
REMOTE_BACKENDS = ("openai",)


class DistillConfig(Sampling):
    """Everything that decides which traces a distillation run makes. Unset sampling fields take the ``teacher``
    preset (``SAMPLING_PRESET``: T 0.6, top-p 0.95, no top-k, no repetition penalty, 8192 tokens)."""

    # The teacher samples as DeepSeek-R1 advises; hosted reasoning APIs take no top-k nor repetition penalty.
    SAMPLING_PRESET: ClassVar[str] = "teacher"

    model_config = ConfigDict(extra="forbid")

    mode: TraceMode = Field("rt", description="rt: plain question; fs1: question + KG paths.")
    model: str = Field(
        EMBEDDED_NAME,
        validation_alias=AliasChoices("model", "teacher"),
        description="Teacher model (server model id, hub id, path, short name).",
    )
    backend: str = Field(
        "auto", description="openai | transformers | llamacpp | vllm | auto (openai with a URL)."
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible server URL (…/v1); the key comes from the env."
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
    tokenizer: str | None = Field(
        None, description="openai backend: teacher tokenizer (path, hub id, smollm2-135m), for counts."
    )
    backend_options: dict[str, Any] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("backend_options", "options"),
        description="More settings of the backend's own config (e.g. timeout for openai).",
    )

    @property
    def teacher(self) -> str:
        """The teacher model (``model``; the name ``fs1 distill --teacher`` and earlier versions use)."""
        return self.model

    def backend_name(self) -> str:
        """The backend ``auto`` stands for: openai with a URL, llama.cpp for the embedded GGUF, else transformers."""
        if self.backend != "auto":
            return self.backend
        if self.base_url:
            return "openai"
        return "llamacpp" if is_embedded(self.teacher) else "transformers"

    def resolved(self) -> DistillConfig:
        """These settings with the unset sampling fields taken from the teacher preset."""
        return self.resolve(self.SAMPLING_PRESET)

    def sampling_params(self, seed: int | None = None) -> SamplingParams:
        """The teacher's sampling parameters (per-unit seeds travel separately, see ``fs1.seeding``)."""
        return SamplingParams.of(self.resolved(), seed=seed)


@dataclass
class DistillSummary:
    """What one run did, plus the label rates of the whole output file."""

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
