"""The generate stage as the driver sees it (``fs1.stage``): questions → ``predictions.jsonl``, one record per
(question, sample, budget), appended as generated; ``fs1 generate`` and the run's generate stages both run it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.backends.base import BackendError
from fs1.generate.predictions import GenerateConfig, GenerateSummary, prediction_key
from fs1.records import Prediction, Question
from fs1.stage import Described, Stage

OUTPUT = "predictions.jsonl"


@dataclass
class GenerateSpec:
    """What to generate with: the settings, the model among them (``config.ref()``; ``config.label`` is what each
    prediction records as its model), and the progress bar's description and console."""

    config: GenerateConfig
    description: str = "generating"
    console: Any = None


def expected_keys(questions: Sequence[Question], spec: GenerateSpec) -> set[tuple[str, int, int | None]]:
    """Every (id, sample, budget) a complete output holds."""
    budgets: list[int | None] = [*sorted(set(spec.config.budgets))] if spec.config.budgets else [None]
    return {(q.ID, s, b) for q in questions for s in range(spec.config.n) for b in budgets}


def run_generate(questions: list[Question], spec: GenerateSpec, out: Path, resume: bool) -> GenerateSummary:
    """Load the backend and generate the predictions of ``questions`` still missing from ``out``; a backend
    failure is one line naming the backend (the predictions written so far are kept)."""
    from fs1.generate.progress import generate_with_progress

    try:
        summary = generate_with_progress(
            questions, spec.config, out, resume=resume, description=spec.description, console=spec.console
        )
    except BackendError as exc:
        # Transport failures after retries, unusable models: one line, no stack trace, records so far kept.
        raise BackendError(f"backend {spec.config.resolved_backend()!r}: {exc}") from None
    return summary


def engine_facts(summary: GenerateSummary) -> dict[str, Any]:
    """The engine that made the predictions where the backend tells more than the package versions (a server's
    kind and version), read before the run."""
    return summary.engine


GENERATE: Stage[GenerateSpec] = Stage(
    name="generate",
    output=OUTPUT,
    record=Prediction,
    key=prediction_key,
    run=run_generate,
    expected=expected_keys,
    described=Described(engine_facts),
)
