"""The one reading of an HTTP ``Retry-After`` header, for every client fs1 has (OpenAI-compatible servers, SPARQL).

Imports nothing from fs1.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date (``now``: a Unix time, default the
    clock); ``None`` when absent or garbled. A date in the past or a negative delay means "now" (0)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
