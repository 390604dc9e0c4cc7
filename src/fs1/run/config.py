"""The experiment file (``fs1 run EXPERIMENT.yaml``): pydantic models that reject unknown keys and wrong types.

Errors name the file and the offending key path (``students.0.backend``) with the YAML line where it can be found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fs1.io import InputError
from fs1.judge.judge import JudgeSampling
from fs1.seeding import DEFAULT_SEED

# abstain: the base model told to answer only when sure, else "I don't know" (optional; not in the paper).
Setting = Literal["instruct", "cot", "abstain", "rt", "fs1"]
BackendName = Literal["transformers", "llamacpp", "vllm", "openai"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """A model and the backend that runs it."""

    name: str = Field(..., description="Short label used in run names and the report.")
    model: str = Field(
        ..., description="Model id: `smollm2-135m`, a local checkpoint, a hub id, or a server model."
    )
    backend: BackendName = Field("transformers", description="Generation backend.")
    base_url: str | None = Field(None, description="Server URL for the `openai` backend.")
    tokenizer: str | None = Field(None, description="Tokenizer for raw-text prompts on the `openai` backend.")
    # Left out of stage fingerprints (exclude=True): timeouts and retries change how, not what, a stage computes.
    options: dict[str, Any] = Field(
        default_factory=dict,
        exclude=True,
        description="More settings of the backend's own config, e.g. {timeout: 120, max_retry_after: 60} (openai).",
    )

    @model_validator(mode="after")
    def _check_options(self) -> ModelSpec:
        """Backend settings are checked at load (unknown names, wrong types), not when a stage reaches them."""
        if self.options and self.backend == "openai":
            from fs1.backends.openai.compat import OpenAIOptions

            OpenAIOptions(**{**self.options, "base_url": self.base_url or "http://unset/v1"})
        return self

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ ") or v.startswith("."):
            raise ValueError("must be a non-empty label without '/', '\\' or spaces")
        return v

    @model_validator(mode="after")
    def _tokenizer_for_servers(self) -> ModelSpec:
        # Local backends read the model's own tokenizer; only a server may need one named.
        if self.tokenizer is not None and self.backend != "openai":
            raise ValueError(f"tokenizer applies to the openai backend, not {self.backend!r}")
        return self


class TeacherSpec(ModelSpec):
    """The teacher that writes rt and fs1 traces."""

    name: str = "teacher"
    samples: int = Field(1, ge=1, description="Traces per question.")
    max_tokens: int = Field(1024, gt=0, description="Cap on the teacher's reply tokens.")
    temperature: float = Field(0.6, ge=0, description="Teacher sampling temperature.")
    no_path: Literal["rt", "skip"] = Field(
        "rt", description="fs1 mode, question without KG path: rt prompt or skip."
    )
    concurrency: int = Field(4, ge=1, description="Parallel requests to a remote teacher.")
    batch_size: int = Field(
        8, ge=1, description="Questions decoded together by a local teacher (batched decoding)."
    )


class TrainSpec(_Strict):
    """Fine-tuning of the students on rt and fs1 traces (paper defaults; the demo shrinks them)."""

    epochs: float = Field(5, gt=0, description="Training epochs.")
    lr: float = Field(1e-5, gt=0, description="Learning rate.")
    max_length: int = Field(8192, gt=0, description="Max tokens per example.")
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimiser steps (overrides epochs)."
    )
    batch_size: int = Field(1, ge=1, description="Per-device batch size.")
    grad_accum: int = Field(
        16, ge=1, description="Gradient accumulation steps (effective batch = batch × accum)."
    )
    lora: bool = Field(False, description="Train LoRA adapters (merged into the saved model).")
    require_correct: bool = Field(
        True, description="Train only on label==1, valid==1 traces (the paper's filter)."
    )


class GenerationSpec(_Strict):
    """Evaluation generation: parallel samples and budget forcing."""

    n: int = Field(16, ge=1, description="Samples per question (pass@k for k ≤ n).")
    max_tokens: int = Field(8000, gt=0, description="Cap on new tokens for instruct/cot settings.")
    budgets: list[Annotated[int, Field(gt=0)]] = Field(
        default_factory=list, description="Thinking budgets for rt/fs1 models (budget forcing)."
    )
    min_think_tokens: int | None = Field(
        None, ge=0, description="Append ' Wait,' until this many thinking tokens."
    )
    answer_max_tokens: int = Field(
        256, gt=0, description="Cap on the forced answer after the budget (paper: 256)."
    )
    greedy_budgets: bool = Field(False, description="Decode budget-forced runs greedily (the s1 protocol).")


class JudgeSpec(ModelSpec):
    """LLM-as-a-judge over the scored predictions."""

    name: str = "judge"
    prompt: Literal["fs1", "simpleqa"] = Field(
        "fs1", description="fs1: the paper's judge request and sampling; simpleqa: a greedy 3-grade grader."
    )
    mode: Literal["all", "cascade"] = "cascade"
    sampling: JudgeSampling = Field(
        default_factory=JudgeSampling, description="Overrides of the preset's sampling; seed; samples."
    )


class Experiment(_Strict):
    """One experiment: benchmark × KG × teacher × students × settings × budgets × k."""

    name: str = "experiment"
    benchmark: str = Field(
        "sample", description="`sample`, a local fs1-format or dataset file, or a hub dataset id."
    )
    benchmark_format: str = Field(
        "auto",
        description="Format of benchmark/train_benchmark files: auto (told from contents), fs1, or a dataset's "
        "own (mintaka, simpleqa, cwq, webqsp, grailqa, exaqt), as `fs1 data convert --format`.",
    )
    train_benchmark: str | None = Field(
        None,
        description="Questions the teacher answers for rt/fs1 traces (paper: CWQ dev); None = `benchmark`.",
    )
    limit: int | None = Field(
        None, ge=1, description="Use only the first N questions (per source when per_source)."
    )
    per_source: bool = Field(True, description="Apply `limit` per dataset so every source is represented.")
    kg: str = Field("bundled", description="`bundled`, `local:FILE` or `sparql:URL`.")
    max_hops: int = Field(3, ge=1, le=4, description="Longest KG path searched.")
    teacher: TeacherSpec = Field(
        default_factory=lambda: TeacherSpec(model="smollm2-135m", backend="llamacpp")
    )
    students: list[ModelSpec] = Field(
        ..., min_length=1, description="Models evaluated (and fine-tuned for rt/fs1)."
    )
    settings: list[Setting] = Field(default_factory=lambda: ["instruct", "cot", "rt", "fs1"])
    train: TrainSpec = Field(default_factory=TrainSpec)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    ks: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8, 16], description="k values for pass@k / maj@k."
    )
    judge: JudgeSpec | None = None
    seed: int = Field(
        DEFAULT_SEED,
        description="Run seed: teacher, training and generation draws all derive from it (fs1.seeding).",
    )


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort YAML line of a key path, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == str(part)), None)
                return key.start_mark.line + 1 if key else node.start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1 if node is not None else None


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that gives one key twice (YAML's default is to keep the last silently)."""

    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"key {key!r} given twice (first on line {first})")
        self.line = line


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses duplicate keys instead of letting the last one win."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKeyError(str(key), line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_experiment(path: str | Path) -> Experiment:
    """Parse and validate an experiment file; every problem is reported as ``FILE:LINE: key: message``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such experiment file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader) or {}
    except DuplicateKeyError as exc:
        raise InputError(f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the experiment file must be a YAML mapping")
    try:
        exp = Experiment.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(text, loc)
            key = ".".join(str(p) for p in loc) or "(top level)"
            lines.append(f"{path}{f':{line}' if line else ''}: {key}: {err['msg']}")
        raise InputError("invalid experiment file:\n" + "\n".join(lines)) from None
    _check_files(exp, path)
    return exp


def resolve_input(name: str, experiment_file: Path) -> Path | None:
    """An input path as given (relative to the working directory), else relative to the experiment file."""
    for candidate in (Path(name), experiment_file.parent / name):
        if candidate.exists():
            return candidate.resolve()
    return None


def _check_files(exp: Experiment, path: Path) -> None:
    """Missing input files are config errors, reported before anything runs."""
    for key in ("benchmark", "train_benchmark"):
        bench = getattr(exp, key)
        if bench is None:
            continue
        looks_like_file = bench.endswith((".jsonl", ".json", ".parquet")) or "/" not in bench
        if bench != "sample" and looks_like_file and resolve_input(bench, path) is None:
            raise InputError(f"{path}: {key}: file not found: {bench}")
    if exp.kg.startswith("local:"):
        target = exp.kg.removeprefix("local:")
        if resolve_input(target, path) is None:
            raise InputError(f"{path}: kg: file not found: {target}")
    elif exp.kg != "bundled" and not exp.kg.startswith("sparql:"):
        raise InputError(f"{path}: kg: expected `bundled`, `local:FILE` or `sparql:URL`, got {exp.kg!r}")
    names = [s.name for s in exp.students]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: students: names must be unique, got {names}")
    bad_k = [k for k in exp.ks if k < 1 or k > exp.generation.n]
    if bad_k:
        raise InputError(f"{path}: ks: {bad_k} outside 1..n (generation.n = {exp.generation.n})")
