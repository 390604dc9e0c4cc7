"""Load a backend and generate predictions under a progress bar: the shared body of `fs1 generate` and `fs1 run`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fs1.generate.predictions import GenerateConfig, GenerateSummary, choose_route, generate_predictions
from fs1.records import Question


def generate_with_progress(
    questions: list[Question],
    config: GenerateConfig,
    out: Path,
    *,
    resume: bool,
    description: str = "generating",
    console: Any = None,
) -> GenerateSummary:
    """Open the model ``config`` names and generate into ``out`` with a live progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fs1.backends import check_sampling, load_backend

    ref = config.ref()
    # Settings the backend refuses fail before a (slow) engine start.
    check_sampling(ref.resolved_backend(), config.sampling_params())
    engine = load_backend(ref)
    # A setting the server cannot serve fails before the progress bar is drawn.
    choose_route(engine, config.setting)
    # read before the run: the engine's own choices, the server that makes the records
    facts = engine.describe()
    columns = (TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("generate", total=None)
        summary = generate_predictions(
            questions, engine, config, out, resume=resume,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    return replace(summary, engine=facts)
