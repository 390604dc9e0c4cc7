"""Test-time scaling written once over the backend interface: parallel sampling and s1 budget forcing."""

from fs1.scaling.budget import BudgetConfig, budget_forcing
from fs1.scaling.parallel import ScaledOutput, continue_limited, parallel_sample

__all__ = ["BudgetConfig", "ScaledOutput", "budget_forcing", "continue_limited", "parallel_sample"]
