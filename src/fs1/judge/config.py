"""The judge's settings: ``JudgeSampling`` (how the judge samples) and ``JudgeSettings`` (the ``fs1 judge`` schema
and the experiment file's ``judge`` section). A light module: the CLI binds it without importing the judge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from fs1.backends.base import SamplingParams
from fs1.backends.ref import BackendChoice, ModelRef, refuse_server_settings, role_backend
from fs1.config import Sampling
from fs1.vocab import DEFAULT_KS, ExtractMode

DEFAULT_BATCH_SIZE = 32
JudgePromptName = Literal["fs1", "fs1-clean", "simpleqa"]
JudgeMode = Literal["all", "cascade"]
# Settings of a server judge only (beside the reference's base_url and tokenizer); a local backend refuses them.
SERVER_SETTINGS = ("api_key_env", "concurrency", "max_retries")


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


class JudgeSettings(JudgeSampling, ModelRef):
    """Which judge, asked how: the settings ``fs1 judge`` and a run's judge share: the judge (a ``ModelRef``), its
    sampling (``JudgeSampling``) and its server settings. Inputs, outputs, the cache and the k list are the command's
    or the run's."""

    model: str = Field(
        ...,
        validation_alias=AliasChoices("model", "judge"),
        description="Judge model (served name, hub id, path or smollm2-135m).",
    )
    backend: BackendChoice = role_backend(
        "openai", "a judge is a served model, as the paper's Llama-3.3-70B judge ran on vLLM"
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

    @field_validator("rules", mode="before")
    @classmethod
    def _split_rules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @model_validator(mode="after")
    def _server_settings(self) -> JudgeSettings:
        if not self.info().remote:
            refuse_server_settings(self, SERVER_SETTINGS, self.resolved_backend())
        return self

    def judge_ref(self) -> ModelRef:
        """The judge's reference with the server settings given (options given explicitly win)."""
        server = {name: getattr(self, name) for name in SERVER_SETTINGS if getattr(self, name) is not None}
        return self.ref().model_copy(update={"options": {**server, **self.options}})


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
