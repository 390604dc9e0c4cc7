"""Load a backend and generate predictions under a progress bar: the shared body of `fs1 generate` and `fs1 run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.generate.predictions import GenerateConfig, GenerateSummary, choose_route, generate_predictions
from fs1.records import Question


def generate_with_progress(
    questions: list[Question],
    backend_name: str,
    model: str,
    config: GenerateConfig,
    out: Path,
    *,
    resume: bool,
    description: str = "generating",
    console: Any = None,
    **backend_options: Any,
) -> GenerateSummary:
    """Load ``backend_name`` for ``model`` and generate ``config`` into ``out`` with a live progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fs1.backends import check_sampling, load_backend

    check_sampling(backend_name, config.sampling())  # a refused setting fails before a slow engine start
    engine = load_backend(backend_name, model, **backend_options)
    # A setting the server cannot serve fails before the progress bar is drawn.
    choose_route(engine, config.setting)
    columns = (TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("generate", total=None)
        return generate_predictions(
            questions, engine, config, out, resume=resume,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
