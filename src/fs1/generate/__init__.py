"""The generate stage: questions → prompts → test-time scaling (parallel sampling, s1 budget forcing) → predictions.

Scaling is written once over the backend interface (``budget``, ``parallel``); ``predictions`` drives it per question.
"""

from fs1.generate.budget import BudgetConfig, budget_forcing
from fs1.generate.parallel import ScaledOutput, continue_limited, parallel_sample
from fs1.generate.predictions import GenerateConfig, build_prompt, generate_predictions, sample_seed

__all__ = [
    "BudgetConfig",
    "GenerateConfig",
    "ScaledOutput",
    "budget_forcing",
    "build_prompt",
    "continue_limited",
    "generate_predictions",
    "parallel_sample",
    "sample_seed",
]
