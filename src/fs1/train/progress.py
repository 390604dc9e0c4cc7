"""Training progress as one Rich line (steps, loss, tokens/s) in place of the trainer's tqdm bar and loss dicts.

Pass ``TrainProgress(label)`` in ``train(..., callbacks=...)`` together with ``QUIET_TRAINER_ARGS`` in the config's
``extra_args``; the trainer's own ``{'loss': …}`` lines then go to stdout, which ``fs1.stage_log`` sends to the log.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

# TrainingArguments that hand the console over to TrainProgress (transformers prints log dicts instead of a bar).
QUIET_TRAINER_ARGS = {"disable_tqdm": True}


class TrainProgress(TrainerCallback):
    """A progress line on stderr: optimiser steps done of the total, the latest loss, trained tokens per second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._progress: Any = None
        self._task: Any = None
        self._started = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (
            TextColumn(f"train {self.label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]} · {task.fields[speed]} tok/s"),
            TimeElapsedColumn(),
        )
        self._progress = Progress(*columns, console=Console(stderr=True))
        self._task = self._progress.add_task(
            "train", total=state.max_steps or None, completed=state.global_step, loss="–", speed="–"
        )
        self._started = time.perf_counter()
        self._progress.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if self._progress is None or not logs:
            return
        fields: dict[str, str] = {}
        if "loss" in logs:
            fields["loss"] = f"{float(logs['loss']):.4f}"
        elapsed = time.perf_counter() - self._started
        if "num_tokens" in logs and elapsed > 0:
            fields["speed"] = f"{float(logs['num_tokens']) / elapsed:,.0f}"
        self._progress.update(self._task, **fields)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)
            self._progress.stop()
            self._progress = None
