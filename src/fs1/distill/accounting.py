"""Token and cost accounting of teacher requests: tokens in/out per request, totals, optional price per 1M tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PER_MILLION = 1_000_000


@dataclass
class Usage:
    """Running totals over the requests of one distillation run."""

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    # Requests whose server reported no prompt-token count (totals then undercount; said in the summary).
    missing_in: int = 0

    def add(self, tokens_in: int | None, tokens_out: int | None) -> None:
        """Count one request (one completion)."""
        self.requests += 1
        if tokens_in is None:
            self.missing_in += 1
        else:
            self.tokens_in += tokens_in
        self.tokens_out += tokens_out or 0

    def cost(self, price_in: float | None, price_out: float | None) -> float | None:
        """Cost in the prices' currency, prices given per 1M tokens; ``None`` when no price was given."""
        if price_in is None and price_out is None:
            return None
        return (self.tokens_in * (price_in or 0.0) + self.tokens_out * (price_out or 0.0)) / PER_MILLION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
