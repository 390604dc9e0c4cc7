"""The generate stage of a run: map the run's setting and generation spec onto ``fs1.generate``."""

from __future__ import annotations

from pathlib import Path

from fs1.backends.ref import ModelRef
from fs1.records import Question
from fs1.run.config import GenerationSpec

# rt- and fs1-tuned students answer in the s1 think/answer format.
SETTING_FOR_GENERATION = {
    "instruct": "instruct",
    "cot": "cot",
    "abstain": "abstain",
    "rt": "reasoning",
    "fs1": "reasoning",
}


def effective_generation(spec: GenerationSpec, model: str, budgets: list[int]) -> GenerationSpec:
    """The generation settings a run's model is given: with ``preset: paper``, the preset's values for that model
    (its real id or checkpoint path decides the family; budget-forced runs decoded greedily get the greedy preset)."""
    greedy = bool(budgets) and (spec.greedy_budgets or spec.n == 1)
    return spec.with_preset(model, greedy=greedy)


def generate_run(
    questions: list[Question],
    label: str,
    ref: ModelRef,
    setting: str,
    spec: GenerationSpec,
    budgets: list[int],
    out: Path,
    *,
    seed: int,
) -> None:
    """Generate ``spec.n`` samples per question (× budgets) with the model ``ref`` names into ``out``, resuming what
    is already there; each prediction records ``label`` as its model; ``seed`` is the run seed."""
    from rich.console import Console

    from fs1.generate import GenerateConfig
    from fs1.generate.progress import generate_with_progress

    gen_setting = SETTING_FOR_GENERATION[setting]
    settings = effective_generation(spec, ref.model, budgets).model_dump(exclude={"greedy_budgets"})
    config = GenerateConfig(
        **settings
        | ref.ref().model_dump()
        | {
            "label": label,
            "setting": gen_setting,
            "budgets": budgets or None,
            "min_think_tokens": spec.min_think_tokens if gen_setting == "reasoning" else None,
            "temperature": 0.0 if (budgets and spec.greedy_budgets) else settings["temperature"],
            "seed": seed,
        }
    )
    # stderr: stdout carries library chatter into the stage's log.txt (fs1.stage_log)
    generate_with_progress(
        questions, config, out, resume=True, description=f"generate {label}", console=Console(stderr=True)
    )
