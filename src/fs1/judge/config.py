"""The judge's settings: ``JudgeSampling`` (how the judge samples) and ``JudgeSettings`` (the ``fs1 judge`` schema
and the experiment file's ``judge`` section). A light module: the CLI binds it without importing the judge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from fs1.backends.base import SamplingParams
from fs1.config import Sampling
from fs1.vocab import DEFAULT_KS, BackendName, ExtractMode

DEFAULT_BATCH_SIZE = 32
JudgePromptName = Literal["fs1", "fs1-clean", "simpleqa"]
JudgeMode = Literal["all", "cascade"]
# Settings of a server judge only; a local backend refuses them rather than ignore them.
REMOTE_ONLY = ("base_url", "api_key_env", "concurrency", "max_retries", "tokenizer")


class JudgeSampling(Sampling):
    """How the judge samples its replies: the sampling fields (unset: the prompt preset's, ``resolve``), the judge
    seed and the replies per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(
        0,
        validation_alias=AliasChoices("seed", "judge_seed"),
        description="Judge seed, sent with every request (recorded with the verdicts).",
    )
    samples: int = Field(
        1,
        ge=1,
        validation_alias=AliasChoices("samples", "judge_samples"),
        description="Judge replies per request; the majority verdict counts.",
    )

    def sampling_only(self) -> JudgeSampling:
        """The judge's sampling fields, seed and samples alone (a ``JudgeSettings`` carries more)."""
        return JudgeSampling(**{name: getattr(self, name) for name in JudgeSampling.model_fields})

    def params(self) -> SamplingParams:
        """The backend request of resolved settings (``samples`` replies, seeded)."""
        return SamplingParams.of(self, n=self.samples, seed=self.seed)


class JudgeSettings(JudgeSampling):
    """Which judge, asked how: the settings ``fs1 judge`` and a run's judge share (the sampling fields are
    ``JudgeSampling``'s). Inputs, outputs, the cache and the k list are the command's or the run's."""

    model: str = Field(
        ...,
        validation_alias=AliasChoices("model", "judge"),
        description="Judge model (served name, hub id, path or smollm2-135m).",
    )
    backend: BackendName = Field(
        "openai",
        description="Judge backend: openai (any OpenAI-compatible server), transformers or llamacpp.",
    )
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL ending in /v1 (openai backend; default $OPENAI_BASE_URL).",
    )
    api_key_env: str | None = Field(
        None, description="Environment variable holding the API key (openai backend; default OPENAI_API_KEY)."
    )
    concurrency: int | None = Field(
        None, ge=1, description="Judge requests in flight at once (openai backend)."
    )
    max_retries: int | None = Field(
        None,
        ge=0,
        description="Retries of a failed judge request: 429, 5xx, timeouts (openai backend; default 5).",
    )
    tokenizer: str | None = Field(
        None, description="openai backend: the judge's tokenizer (path, hub id, smollm2-135m) for counts."
    )
    prompt: JudgePromptName = Field(
        "fs1",
        description="fs1: the paper's containment judge (0/1), the authors' request exactly (their Qwen system "
        "message, repetition penalty 1.05); fs1-clean: the same user turn alone, no repetition penalty; simpleqa: "
        "CORRECT/INCORRECT/NOT_ATTEMPTED, greedy.",
    )
    mode: JudgeMode = Field(
        "cascade",
        description="cascade: rules decide what they decide surely, the judge the rest; all: judge all.",
    )
    batch_size: int = Field(
        DEFAULT_BATCH_SIZE, ge=1, description="Judge requests per batch (each batch is cached when done)."
    )
    rules: tuple[str, ...] | None = Field(
        None,
        description="Comma-separated cascade rules, in order (default: the measured set; see `fs1 judge-agreement`).",
    )
    # Left out of fingerprints (exclude=True): timeouts and retries change how, not what, the judge decides.
    backend_options: dict[str, Any] = Field(
        default_factory=dict,
        exclude=True,
        validation_alias=AliasChoices("backend_options", "options"),
        description="More settings of the backend's own config, e.g. {timeout: 120} (openai).",
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _split_rules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @model_validator(mode="after")
    def _remote_only(self) -> JudgeSettings:
        given = [name for name in REMOTE_ONLY if getattr(self, name) is not None]
        if given and self.backend != "openai":
            raise ValueError(
                f"{', '.join(given)} apply to the openai backend only (got backend {self.backend!r})"
            )
        if self.backend_options and self.backend == "openai":
            from fs1.backends.openai.compat import OpenAIOptions  # names and types checked at load

            OpenAIOptions(**{**self.backend_options, "base_url": self.base_url or "http://unset/v1"})
        return self

    def remote_options(self) -> dict[str, Any]:
        """The server settings given (none for a local backend), as ``load_judge`` takes them."""
        return {name: getattr(self, name) for name in REMOTE_ONLY if getattr(self, name) is not None}


class JudgeConfig(JudgeSettings):
    """The ``fs1 judge`` schema: the judge settings plus the k list and the extraction rule (a run uses its own
    ``ks`` and ``extract``)."""

    extract: ExtractMode | None = Field(
        None,
        description="Answers shown to the judge: fs1's extraction or the authors' (the paper's); default: the "
        "rule the scores directory was scored with, fs1 for a predictions file.",
    )

    k: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: list(DEFAULT_KS),
        description="Comma-separated k for pass@k and maj@k (k <= n).",
    )
