"""The stages of one experiment, wired: for each stage name (``paths``, ``distill/rt``, ``generate/tiny__fs1``, …) its
fingerprint config (what decides its outputs) and its ``Part`` (how it works: a declared ``Stage`` with its settings
and questions, or a body that fills the stage directory as a whole).

The driver process and a cluster job both build a stage from its name alone (``part_for``), so a job is plain data:
the run directory, the stage name and the shard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs1.records import Question
from fs1.run.cluster.resources import resolve_resources
from fs1.stage import Stage
from fs1.vocab import TRACE_MODES

if TYPE_CHECKING:
    from fs1.backends.ref import ModelRef
    from fs1.run.config import GenerationSpec, ModelSpec
    from fs1.run.pipeline import Pipeline

# Settings whose student is first fine-tuned on traces of the same name.
TRAINED_SETTINGS = TRACE_MODES
# Budget-forcing fields change only the rt/fs1 runs; an instruct/cot run depends on the rest.
FORCING_FIELDS = {"budgets", "min_think_tokens", "answer_max_tokens", "greedy_budgets", "continue_sweep"}
# Bumped when the score summary gains fields or a verdict rule changes, so runs scored before are scored again
# (cheap) on resume. 3: question accounting (excluded, questions_without_predictions), BCE eras, Unicode;
# 4: no-break and thin spaces between digit groups are thousands separators.
SCORE_METRICS_VERSION = 4
# The stage families whose jobs may go to a cluster, by the kind their resources are looked up under.
HEAVY = {"paths": "paths", "distill": "distill", "train": "train", "generate": "generate", "judge": "judge"}
# rt- and fs1-tuned students answer in the s1 think/answer format.
SETTING_FOR_GENERATION = {
    "instruct": "instruct",
    "cot": "cot",
    "abstain": "abstain",
    "rt": "reasoning",
    "fs1": "reasoning",
}


@dataclass
class Part:
    """How one stage of a run works: ``stage`` over ``questions()`` in ``count`` shards, or a ``body`` that fills the
    stage directory as a whole. ``before`` writes what the stage keeps beside its output (each job writes it again);
    ``report`` prints the console line of a finished stage from its files."""

    stage: Stage[Any] | None = None
    settings: Any = None
    questions: Callable[[], list[Question]] | None = None
    count: int = 1
    body: Callable[[Path], None] | None = None
    before: Callable[[Path], None] | None = None
    report: Callable[[Path], None] | None = None


def family(name: str) -> str:
    return name.split("/", 1)[0]


def student_named(pipe: Pipeline, name: str) -> ModelSpec:
    from fs1.errors import ConfigError

    found = next((s for s in pipe.exp.students if s.name == name), None)
    if found is None:
        raise ConfigError(f"no student named {name!r} in the experiment")
    return found


def heavy_model(pipe: Pipeline, name: str) -> Any:
    """The model a heavy stage's resources are sized for (teacher, student or judge)."""
    kind = family(name)
    if kind == "distill":
        return pipe.exp.teacher
    if kind in ("train", "generate"):
        rest = name.split("/", 1)[1]
        student = rest.rsplit("__", 1)[0] if kind == "generate" else rest.rsplit("-", 1)[0]
        return student_named(pipe, student)
    if kind == "judge":
        return pipe.exp.judge
    return None


# --- paths ---------------------------------------------------------------------------------------------------------


def paths_config(pipe: Pipeline) -> dict[str, Any]:
    config = {
        "benchmark": pipe.fingerprints["benchmark"],
        "kg": pipe.exp.kg,
        "paths": pipe.exp.paths.model_dump(mode="json"),
    }
    graphs = pipe.exp.endpoint.model_dump(mode="json", include={"default_graph", "named_graph"})
    if pipe.exp.kg.startswith("sparql:") and any(graphs.values()):
        config["graphs"] = graphs  # the graphs asked decide the data (absent when unset: older runs resume)
    return config


def paths_part(pipe: Pipeline) -> Part:
    from fs1.kg.stage import PATHS, PathsSpec

    # A sparql: KG stays one job: its query cache is one SQLite file in WAL mode, which processes on different nodes
    # must not share over a network filesystem (and public endpoints throttle parallel clients anyway). Local KGs
    # shard: a store directory opens read-only, a small file loads into each process's memory, and a large file's
    # store is built once under a lock (fs1.kg.store.build_store).
    sparql = pipe.exp.kg.startswith("sparql:")
    count = 1 if sparql else pipe.shard_count(len(pipe.train_questions()))
    endpoint = pipe.exp.endpoint if sparql else None
    spec = PathsSpec(pipe.kg_spec(), pipe.exp.paths, pipe.rundir / "cache" / "kg", endpoint, progress=False)
    return Part(PATHS, spec, pipe.train_questions, count)


# --- distill -------------------------------------------------------------------------------------------------------


def distill_config(pipe: Pipeline, mode: str) -> dict[str, Any]:
    config = {
        "benchmark": pipe.fingerprints["benchmark"],
        "teacher": pipe.exp.teacher.fingerprint(),
        "mode": mode,
        "seed": pipe.exp.seed,
    }
    if mode == "fs1":
        config["paths"] = pipe.fingerprints["paths"]
    return config


def distill_part(pipe: Pipeline, mode: str) -> Part:
    from fs1.distill import DistillConfig
    from fs1.distill.inputs import load_paths
    from fs1.distill.stage import DISTILL, DistillSpec, distill_line

    teacher = pipe.exp.teacher
    config = DistillConfig(
        **teacher.model_dump(exclude={"name", "mode"}) | {"mode": mode, "seed": pipe.exp.seed}
    )
    paths = load_paths(pipe.rundir / "paths" / "paths.jsonl") if mode == "fs1" else None
    spec = DistillSpec(config, paths)

    def report(directory: Path) -> None:
        pipe.log(
            distill_line(mode, _read_json(DISTILL.side_path(directory / DISTILL.output, ".summary.json")))
        )

    count = pipe.shard_count(len(pipe.train_questions()))
    return Part(DISTILL, spec, pipe.train_questions, count, report=report)


# --- generate ------------------------------------------------------------------------------------------------------


def model_for(pipe: Pipeline, student: ModelSpec, setting: str) -> ModelRef:
    """The model a run of ``setting`` generates with: the student, or its checkpoint tuned on traces."""
    if setting in TRAINED_SETTINGS:
        return student.for_checkpoint(str(pipe.rundir / "train" / f"{student.name}-{setting}" / "model"))
    return student.ref()


def _budgets(pipe: Pipeline, setting: str) -> list[int]:
    return list(pipe.exp.generation.budgets or []) if setting in TRAINED_SETTINGS else []


def effective_generation(spec: GenerationSpec, model: str, budgets: list[int]) -> GenerationSpec:
    """The generation settings a run's model is given: with ``preset: paper``, the preset's values for that model
    (its real id or checkpoint path decides the family; budget-forced runs decoded greedily get the greedy preset)."""
    greedy = bool(budgets) and (spec.greedy_budgets or spec.n == 1)
    return spec.with_preset(model, greedy=greedy)


def generate_config(pipe: Pipeline, student: ModelSpec, setting: str) -> dict[str, Any]:
    from fs1.generate.predictions import NOT_RECORDED

    g = pipe.exp.generation
    trained = setting in TRAINED_SETTINGS
    budgets = _budgets(pipe, setting)
    config = {
        "benchmark": pipe.fingerprints["benchmark"],
        "student": student.fingerprint(),
        "setting": setting,
        "generation": effective_generation(g, model_for(pipe, student, setting).model, budgets).model_dump(
            exclude={"seed", *NOT_RECORDED} | (set() if trained else FORCING_FIELDS)
        ),
        "budgets": budgets,
        "seed": pipe.exp.seed,
    }
    if trained:
        config["model"] = pipe.fingerprints[f"train/{student.name}-{setting}"]
    return config


def generate_part(pipe: Pipeline, student: ModelSpec, setting: str) -> Part:
    from fs1.generate.stage import GENERATE

    run = f"{student.name}__{setting}"
    ref = model_for(pipe, student, setting)
    # On a cluster a vLLM job shards the model over the GPUs it was given (resources table / experiment file).
    gpus = resolve_resources(pipe.exp.executor, "generate", student.model, student.resolved_backend()).gpus
    shard_over = ref.info().tensor_parallel_option
    if shard_over is not None and pipe.remote and gpus > 1:
        ref = ref.with_options(**{shard_over: gpus})
    budgets = _budgets(pipe, setting)
    meta = {"model": student.name, "setting": setting, "backend": ref.resolved_backend(), "model_path": ref.model,
            "budgets": budgets, "n": pipe.exp.generation.n}  # fmt: skip

    def before(directory: Path) -> None:
        from fs1.io import write_json_atomic

        write_json_atomic(directory / "run.json", meta)

    spec = generate_spec(pipe, setting, run, ref, budgets)
    count = pipe.shard_count(len(pipe.questions()))
    return Part(GENERATE, spec, pipe.questions, count, before=before)


def generate_spec(pipe: Pipeline, setting: str, label: str, ref: ModelRef, budgets: list[int]) -> Any:
    """The run's generation settings for one model in one setting, as ``fs1 generate`` takes them; each prediction
    records ``label`` as its model."""
    from rich.console import Console

    from fs1.generate import GenerateConfig
    from fs1.generate.stage import GenerateSpec

    g = pipe.exp.generation
    gen_setting = SETTING_FOR_GENERATION[setting]
    settings = effective_generation(g, ref.model, budgets).model_dump(exclude={"greedy_budgets"})
    config = GenerateConfig(
        **settings
        | ref.ref().model_dump()
        | {
            "label": label,
            "setting": gen_setting,
            "budgets": budgets or None,
            "min_think_tokens": g.min_think_tokens if gen_setting == "reasoning" else None,
            "temperature": 0.0 if (budgets and g.greedy_budgets) else settings["temperature"],
            "seed": pipe.exp.seed,
        }
    )
    # stderr: stdout carries library chatter into the stage's log.txt (fs1.stage_log)
    return GenerateSpec(config, f"generate {label}", Console(stderr=True))


# --- score and judge -----------------------------------------------------------------------------------------------


def score_config(pipe: Pipeline, run: str) -> dict[str, Any]:
    return {
        "generate": pipe.fingerprints[f"generate/{run}"],
        "ks": pipe.exp.ks,
        "seed": pipe.exp.seed,
        "metrics": SCORE_METRICS_VERSION,
        "extract": pipe.exp.extract,
    }


def score_part(pipe: Pipeline, run: str) -> Part:
    from fs1.scoring.stage import SCORE, ScoreSpec
    from fs1.summary_types import SUMMARY_FILE

    def report(directory: Path) -> None:
        for warning in _read_json(directory / SUMMARY_FILE).get("warnings", []):
            pipe.log(f"  [yellow]warning:[/] {warning}")

    predictions = pipe.rundir / "generate" / run / "predictions.jsonl"
    spec = ScoreSpec(predictions, pipe.exp.ks, pipe.exp.seed, extract=pipe.exp.extract)
    return Part(SCORE, spec, pipe.questions, report=report)


def judge_config(pipe: Pipeline, run: str) -> dict[str, Any]:
    spec = pipe.exp.judge
    assert spec is not None
    return {
        "score": pipe.fingerprints[f"score/{run}"],
        "judge": spec.fingerprint(),
        "ks": pipe.exp.ks,
        "seed": pipe.exp.seed,
    }


def judge_part(pipe: Pipeline, run: str) -> Part:
    from fs1.judge.stage import JUDGE, JudgeRunSpec

    spec = pipe.exp.judge
    assert spec is not None

    def load() -> Any:
        from fs1.judge.judge import load_judge

        return load_judge(
            spec.judge_ref(),
            prompt=spec.prompt,
            sampling=judge_sampling(spec, pipe.exp.seed),
            cache_path=pipe.rundir / "cache" / "judge_verdicts.jsonl",
            batch_size=spec.batch_size,
        )

    settings = JudgeRunSpec(
        scored=pipe.rundir / "score" / run,
        load=load,
        mode=spec.mode,
        rules=spec.rules,
        ks=pipe.exp.ks,
        info={"model": spec.model, "prompt": spec.prompt, "backend": spec.resolved_backend()},
        seed=pipe.exp.seed,
        extract=pipe.exp.extract,
    )
    return Part(JUDGE, settings, pipe.questions)


def judge_sampling(spec: Any, run_seed: int) -> Any:
    """The experiment's judge sampling, its seed the run seed unless the experiment file sets one."""
    sampling = spec.sampling_only()
    if "seed" in spec.model_fields_set:
        return sampling
    return sampling.model_copy(update={"seed": run_seed})


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def _arguments(pipe: Pipeline, name: str) -> tuple[str, tuple[Any, ...]]:
    """A stage name's family and the arguments its wiring takes (``generate/tiny__fs1`` → student, "fs1")."""
    kind, _, rest = name.partition("/")
    if kind in ("sft", "train"):
        student, mode = rest.rsplit("-", 1)
        return kind, (student_named(pipe, student), mode)
    if kind == "generate":
        student, setting = rest.rsplit("__", 1)
        return kind, (student_named(pipe, student), setting)
    return kind, (rest,) if rest else ()


def _wiring(kind: str) -> tuple[Callable[..., dict[str, Any]], Callable[..., Part]]:
    from fs1.errors import ConfigError
    from fs1.run import training

    table: dict[str, tuple[Callable[..., dict[str, Any]], Callable[..., Part]]] = {
        "paths": (paths_config, paths_part),
        "distill": (distill_config, distill_part),
        "sft": (training.sft_config, training.sft_part),
        "train": (training.train_config, training.train_part),
        "generate": (generate_config, generate_part),
        "score": (score_config, score_part),
        "judge": (judge_config, judge_part),
    }
    if kind not in table:
        raise ConfigError(f"no stage family {kind!r}; expected one of {', '.join(table)}")
    return table[kind]


def config_for(pipe: Pipeline, name: str) -> dict[str, Any]:
    """The fingerprint config of stage ``name`` (its upstream stages' fingerprints must be known)."""
    kind, args = _arguments(pipe, name)
    return _wiring(kind)[0](pipe, *args)


def part_for(pipe: Pipeline, name: str) -> Part:
    """How stage ``name`` works, built from the experiment and the run directory alone."""
    kind, args = _arguments(pipe, name)
    return _wiring(kind)[1](pipe, *args)
