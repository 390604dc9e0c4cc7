"""Steady-state training throughput, measured by a Trainer callback (for benchmarks and the GPU check).

The first optimizer step carries one-off costs (kernel selection, allocator warm-up, lazy imports), so throughput is
taken between the end of the first logged step and the end of the last one. Needs ``logging_steps=1``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from transformers import TrainerCallback


@dataclass
class StepTiming:
    """(step, wall time, cumulative trained tokens, loss) at every logged step."""

    marks: list[tuple[int, float, float, float | None]] = field(default_factory=list)

    @property
    def steady_steps(self) -> int:
        return self.marks[-1][0] - self.marks[0][0] if len(self.marks) > 1 else 0

    @property
    def steady_seconds(self) -> float:
        return self.marks[-1][1] - self.marks[0][1] if len(self.marks) > 1 else 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steady_steps / self.steady_seconds if self.steady_seconds > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        """Non-padding tokens processed per second after the first step (TRL's ``num_tokens`` metric)."""
        if self.steady_seconds <= 0:
            return 0.0
        return (self.marks[-1][2] - self.marks[0][2]) / self.steady_seconds

    @property
    def losses(self) -> list[float]:
        return [m[3] for m in self.marks if m[3] is not None]


class StepTimer(TrainerCallback):
    """Records a ``StepTiming`` mark each time the trainer logs training metrics."""

    def __init__(self) -> None:
        self.timing = StepTiming()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or "num_tokens" not in logs:
            return  # the end-of-training summary has no per-step metrics
        loss = logs.get("loss")
        self.timing.marks.append((state.global_step, time.perf_counter(), float(logs["num_tokens"]), loss))
