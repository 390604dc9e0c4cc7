"""The experiment file (``fs1 run EXPERIMENT.yaml``): pydantic models that reject unknown keys and wrong types.

Errors name the file and the offending key path (``students.0.backend``) with the YAML line where it can be found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fs1.backends.ref import BackendChoice, ModelRef, role_backend
from fs1.data.detect import DATASET_FORMATS
from fs1.distill.config import DistillConfig
from fs1.generate.predictions import GenerationSettings
from fs1.io import InputError
from fs1.judge.config import JudgeSettings
from fs1.kg.settings import EndpointOptions, SearchSettings
from fs1.redact import register_secrets_in
from fs1.seeding import DEFAULT_SEED
from fs1.train.config import SftConfig
from fs1.vocab import DEFAULT_KS, EMBEDDED_NAME, PAPER_SETTINGS, ExtractMode, RunSetting

Setting = RunSetting


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def refuse_section_seed(section: str, data: Any) -> Any:
    """The teacher, training and generation seeds derive from the experiment's one ``seed`` (fs1.seeding): a seed
    in their section would be ignored, so it is refused."""
    if isinstance(data, dict) and "seed" in data:
        raise ValueError(f"the {section} seed derives from the experiment's top-level `seed`; move it there")
    return data


class ModelSpec(ModelRef):
    """A student: a model and the backend that runs it (``ModelRef``), with a label."""

    name: str = Field(..., description="Short label used in run names and the report.")
    backend: BackendChoice = role_backend(
        "transformers", "a student is a Hugging Face checkpoint, the format fs1 fine-tunes and runs"
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ ") or v.startswith("."):
            raise ValueError("must be a non-empty label without '/', '\\' or spaces")
        return v

    def fingerprint(self) -> dict[str, Any]:
        """What decides a student's outputs, in the shape earlier runs recorded: options that change outputs
        (dtype, weights, threads, …) are added only when given, so a run without them keeps its fingerprint, and
        timeouts or retries are never part of it."""
        what = self.model_dump(exclude={"options"})
        if options := self.output_options():
            what["options"] = options
        return what


class TeacherSpec(DistillConfig):
    """The teacher that writes rt and fs1 traces: the ``fs1 distill`` schema (same fields, same defaults), plus a
    label. The mode is not a key here: the run distils rt and fs1 traces as its settings ask."""

    name: str = Field("teacher", description="Short label used in the run log.")

    @model_validator(mode="before")
    @classmethod
    def _no_mode(cls, data: Any) -> Any:
        if isinstance(data, dict) and "mode" in data:
            raise ValueError("the teacher's mode follows the run's settings (rt, fs1); remove `mode`")
        return refuse_section_seed("teacher", data)

    _safe_name = field_validator("name")(ModelSpec._safe_name.__func__)  # type: ignore[attr-defined]

    def fingerprint(self) -> dict[str, Any]:
        """What decides the traces, in the shape earlier runs recorded (sampling resolved against the teacher
        preset, the options under their earlier name), so their distill stages stay up to date; the seed is the
        run's."""
        what = self.resolved().model_dump(exclude={"seed"})
        what["backend_options"] = what.pop("options")
        return what


class TrainSpec(SftConfig):
    """Fine-tuning of the students on rt and fs1 traces: the ``fs1 train`` recipe (same fields, same defaults; the
    run sets data, model and output). ``grad_accum`` of earlier experiment files is read as
    ``effective_batch = per_device_train_batch_size × grad_accum``."""

    @model_validator(mode="before")
    @classmethod
    def _legacy_grad_accum(cls, data: Any) -> Any:
        if isinstance(data, dict) and "grad_accum" in data:
            data = dict(data)
            per_device = next(
                (data[k] for k in ("per_device_train_batch_size", "batch_size") if k in data), 1
            )
            data["effective_batch"] = int(per_device) * int(data.pop("grad_accum"))
        return refuse_section_seed("training", data)


class GenerationSpec(GenerationSettings):
    """Evaluation generation: the ``fs1 generate`` settings (same fields, same defaults) for every model of the run,
    except ``n``, which is the paper's 16 here. ``budgets`` and ``min_think_tokens`` apply to the rt/fs1 students."""

    n: int = Field(16, ge=1, description="Samples per question (pass@k for k ≤ n; the paper: 16).")
    greedy_budgets: bool = Field(False, description="Decode budget-forced runs greedily (the s1 protocol).")

    @model_validator(mode="before")
    @classmethod
    def _no_seed(cls, data: Any) -> Any:
        return refuse_section_seed("generation", data)


class JudgeSpec(JudgeSettings):
    """LLM-as-a-judge over the scored predictions: the ``fs1 judge`` settings (same fields, same defaults but the
    backend, which is local here as the students' is; the run sets the k list), plus a label. A ``sampling:``
    mapping of earlier experiment files is read as the same fields."""

    name: str = Field("judge", description="Short label used in the run log.")
    backend: BackendChoice = role_backend("transformers", "a run judges locally, as its students run")

    @model_validator(mode="before")
    @classmethod
    def _legacy_sampling(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("sampling"), dict):
            data = dict(data)
            sampling = data.pop("sampling")
            twice = sorted(set(sampling) & set(data))
            if twice:
                raise ValueError(f"{', '.join(twice)} given both in `sampling` and in the judge section")
            data.update(sampling)
        return data

    _safe_name = field_validator("name")(ModelSpec._safe_name.__func__)  # type: ignore[attr-defined]

    def fingerprint(self) -> dict[str, Any]:
        """What decides the verdicts, in the shape earlier runs recorded (so their judge stages stay up to date);
        how the judge is reached (retries, concurrency, batches, key) is left out."""
        what: dict[str, Any] = {
            "name": self.name, "model": self.model, "backend": self.backend, "base_url": self.base_url,
            "tokenizer": self.tokenizer, "prompt": self.prompt, "mode": self.mode,
            "sampling": self.sampling_only().model_dump(),
        }  # fmt: skip
        if self.rules is not None:
            what["rules"] = list(self.rules)
        if options := self.output_options():  # a local judge's dtype decides verdicts too
            what["options"] = options
        return what


ExecutorName = Literal["local", "slurm", "ray"]
StageKind = Literal["paths", "distill", "train", "generate", "judge"]


class ResourceSpec(_Strict):
    """What one job of a stage asks the cluster for; unset fields take the model-size defaults (docs/cluster.md)."""

    gpus: int | None = Field(None, ge=0, description="GPUs per job (= tensor-parallel size for vLLM).")
    cpus: int | None = Field(None, ge=1, description="CPU cores per job.")
    mem_gb: int | None = Field(None, ge=1, description="Host memory per job in GiB.")
    time_min: int | None = Field(None, ge=1, description="Wall-time limit per job in minutes.")
    partition: str | None = Field(None, description="Slurm partition.")
    account: str | None = Field(None, description="Slurm account charged.")
    qos: str | None = Field(None, description="Slurm quality of service.")
    constraint: str | None = Field(None, description="Slurm node feature constraint, e.g. `a100`.")
    sbatch: list[str] = Field(
        default_factory=list, description="Extra `#SBATCH` lines, e.g. `--exclusive` (without `#SBATCH`)."
    )

    @field_validator("sbatch")
    @classmethod
    def _long_options(cls, lines: list[str]) -> list[str]:
        for line in lines:
            sbatch_option(line)
        return lines


def sbatch_option(line: str) -> tuple[str, str | bool]:
    """An extra ``#SBATCH`` line as (submitit parameter name, value): ``--gres=gpu:4`` → ("gres", "gpu:4"),
    ``--exclusive`` → ("exclusive", True); anything but a long option is refused."""
    text = line.strip().removeprefix("#SBATCH").strip()
    if not text.startswith("--") or len(text) == 2:
        raise ValueError(f"executor resources sbatch: expected a long option like --exclusive, got {line!r}")
    key, _, value = text[2:].replace(" ", "=", 1).partition("=")
    return key.replace("-", "_"), value.strip() or True


class SlurmSpec(_Strict):
    """Slurm through submitit: one job array per stage wave, requeued on preemption or timeout."""

    folder: str | None = Field(None, description="submitit's job folder; None = RUNDIR/.jobs/slurm.")
    setup: list[str] = Field(
        default_factory=list, description="Shell lines run before each job, e.g. `module load cuda`."
    )
    poll_s: int = Field(30, ge=1, description="Longest wait between two job-state queries.")
    max_parallel: int | None = Field(None, ge=1, description="Array elements running at once.")


class RaySpec(_Strict):
    """Ray core: one task per stage or shard on an existing cluster."""

    address: str = Field("auto", description="`auto`, `ray://host:port`, `host:port` or `local` (start one).")
    max_retries: int = Field(3, ge=0, description="Retries of a task whose worker or node died.")


class ExecutorSpec(_Strict):
    """Where the heavy stages run and how they are split; local is today's single process."""

    kind: ExecutorName = Field("local", description="local | slurm | ray (`fs1 run --executor` overrides).")
    shards: int = Field(
        1, ge=1, description="Shards per paths, distill and generation stage (each its own job and JSONL)."
    )
    questions_per_shard: int | None = Field(
        None, ge=1, description="Alternative to `shards`: shard size in questions."
    )
    resources: dict[StageKind | Literal["default"], ResourceSpec] = Field(
        default_factory=dict,
        description="Per-stage resources (`default` applies to every stage); unset fields derive from model size.",
    )
    slurm: SlurmSpec = Field(default_factory=SlurmSpec)
    ray: RaySpec = Field(default_factory=RaySpec)

    def shard_count(self, questions: int) -> int:
        """Shards for a stage over ``questions`` questions (never more shards than questions)."""
        if self.questions_per_shard is not None:
            wanted = -(-questions // self.questions_per_shard)
        else:
            wanted = self.shards
        return max(1, min(wanted, questions))


class Experiment(_Strict):
    """One experiment: benchmark × KG × teacher × students × settings × budgets × k."""

    name: str = "experiment"
    benchmark: str = Field(
        "sample", description="`sample`, a local fs1-format or dataset file, or a hub dataset id."
    )
    benchmark_format: str = Field(
        "auto",
        description="Format of benchmark/train_benchmark files: auto (told from contents), fs1, or a dataset's "
        f"own ({', '.join(DATASET_FORMATS)}), as `fs1 data convert --format`.",
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
    paths: SearchSettings = Field(
        default_factory=SearchSettings,
        description="Path search: the `fs1 paths` settings (max_hops, deny, ...).",
    )
    endpoint: EndpointOptions = Field(
        default_factory=EndpointOptions,
        description="How a `sparql:` KG is asked: the `fs1 paths` endpoint settings (default_graph, rate, ...).",
    )
    teacher: TeacherSpec = Field(default_factory=lambda: TeacherSpec(model=EMBEDDED_NAME, backend="llamacpp"))
    students: list[ModelSpec] = Field(
        ..., min_length=1, description="Models evaluated (and fine-tuned for rt/fs1)."
    )
    settings: list[Setting] = Field(default_factory=lambda: list(PAPER_SETTINGS))
    train: TrainSpec = Field(default_factory=TrainSpec)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    ks: list[int] = Field(
        default_factory=lambda: list(DEFAULT_KS), description="k values for pass@k / maj@k."
    )
    extract: ExtractMode = Field(
        "fs1",
        description="Answer extraction for scoring and the judge: fs1 (last box after the thinking) or authors "
        "(the paper's: first box anywhere, else the answer marker, else the last 10 tokens).",
    )
    judge: JudgeSpec | None = None
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec, description="Local, Slurm or Ray; sharding.")
    seed: int = Field(
        DEFAULT_SEED,
        description="Run seed: teacher, training and generation draws all derive from it (fs1.seeding).",
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_max_hops(cls, data: Any) -> Any:
        # Earlier experiment files set max_hops at the top level; it is the path search's setting.
        if isinstance(data, dict) and "max_hops" in data:
            data = dict(data)
            data["paths"] = {**(data.get("paths") or {}), "max_hops": data.pop("max_hops")}
        return data


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


def load_experiment(path: str | Path, base: Path | None = None) -> Experiment:
    """Parse and validate an experiment file; every problem is reported as ``FILE:LINE: key: message``.

    Input files are looked for as given, beside the experiment file, then in ``base`` (the directory of the
    experiment file a run was started from, for the copy kept in the run directory)."""
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
    except RecursionError:  # PyYAML builds nested collections recursively
        raise InputError(f"{path}: invalid YAML (nested too deeply to read)") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the experiment file must be a YAML mapping")
    register_secrets_in(raw)  # a password in the kg URL is masked wherever it shows up later
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
    _check_files(exp, path, base)
    return exp


def resolve_input(name: str, experiment_file: Path, base: Path | None = None) -> Path | None:
    """An input path as given (relative to the working directory), else relative to the experiment file, else to
    ``base``."""
    candidates = [Path(name), experiment_file.parent / name] + ([base / name] if base is not None else [])
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    return None


def _check_files(exp: Experiment, path: Path, base: Path | None = None) -> None:
    """Missing input files are config errors, reported before anything runs."""
    for key in ("benchmark", "train_benchmark"):
        bench = getattr(exp, key)
        if bench is None:
            continue
        looks_like_file = bench.endswith((".jsonl", ".json", ".parquet")) or "/" not in bench
        if bench != "sample" and looks_like_file and resolve_input(bench, path, base) is None:
            raise InputError(f"{path}: {key}: file not found: {bench}")
    if exp.kg.startswith("local:"):
        target = exp.kg.removeprefix("local:")
        if resolve_input(target, path, base) is None:
            raise InputError(f"{path}: kg: file not found: {target}")
    elif exp.kg != "bundled" and not exp.kg.startswith("sparql:"):
        raise InputError(f"{path}: kg: expected `bundled`, `local:FILE` or `sparql:URL`, got {exp.kg!r}")
    names = [s.name for s in exp.students]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: students: names must be unique, got {names}")
    bad_k = [k for k in exp.ks if k < 1 or k > exp.generation.n]
    if bad_k:
        raise InputError(f"{path}: ks: {bad_k} outside 1..n (generation.n = {exp.generation.n})")
