"""Is an endpoint's answer the whole answer? Checked on every reply, never assumed (issue 28).

An answer is *incomplete* (``IncompleteAnswer``) when:

1. **a row cap was reached**: it holds exactly as many rows as a cap the server announced (Virtuoso's
   ``X-SPARQL-MaxRows`` header, sent whenever an answer reaches ``ResultSetMaxRows``, or the cap read when the engine
   was detected) or the user declared (``--endpoint-max-rows``, for gateways that cut silently), and the query's own
   ``LIMIT`` does not explain it (a query asking for at most ``cap`` rows is not cut by that cap);
2. **the engine flagged it partial**: HTTP 206 or ``X-SQL-State: S1TAT`` / ``X-SPARQL-Anytime`` (Virtuoso's anytime
   answers), or QLever's ``meta.result-size-total`` above the rows it sent;
3. **Virtuoso's anytime mode may have cut it short unnoticed**: Virtuoso stops a query at its anytime limit and
   returns what it has; inside an aggregate it resets the timer and carries on with the partial counts, so a cut
   count often comes back as HTTP 200 with no flag at all (issue 28: the flag was on 8 of 37 partial counts and 0 of
   28 partial edge lists). Virtuoso only cuts a query once it has run for the limit, and the server's run time is
   shorter than the time fs1 waits for the reply; so an answer that came back *faster than the limit* is proven
   whole, and a slower one is treated as partial — even when it happens to be whole. The limit is the smallest of
   fs1's ``--server-timeout`` (sent as ``timeout=ms``, which turns anytime mode on), the server's
   ``MaxQueryExecutionTime`` (anytime by default since Virtuoso 7.2.8) and ``ExecutionTimeout``; when the server's
   settings cannot be read, Virtuoso's floor of 1 s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fs1.kg.base import IncompleteAnswer
from fs1.kg.profile import EndpointProfile

# A query's own top-level LIMIT: the last clause of the text (subqueries end in a brace).
TOP_LIMIT = re.compile(r"\bLIMIT\s+(\d+)(?:\s+OFFSET\s+\d+)?\s*$", re.IGNORECASE)
# The reply time at which an anytime-cut answer becomes possible, as a share of the limit (clock granularity).
ANYTIME_MARGIN = 0.98


def top_limit(query: str) -> int | None:
    """The ``LIMIT`` of the outermost query, or ``None``."""
    match = TOP_LIMIT.search(query)
    return int(match.group(1)) if match else None


def announced_cap(headers: Mapping[str, str]) -> int | None:
    """A row cap the server announced on this reply (Virtuoso: ``X-SPARQL-MaxRows``)."""
    value = headers.get("x-sparql-maxrows")
    try:
        return int(value) if value else None
    except ValueError:
        return None


def check(
    query: str,
    n_rows: int,
    *,
    status: int,
    headers: Mapping[str, str],
    payload: Mapping[str, object],
    elapsed_s: float,
    profile: EndpointProfile,
) -> None:
    """Raise ``IncompleteAnswer`` naming why, unless the reply is provably the whole answer."""
    flagged = _partial_flag(status, headers, payload, n_rows)
    if flagged is not None:
        raise IncompleteAnswer(f"{profile.url}: incomplete answer ({flagged})")
    capped = _capped(query, n_rows, headers, profile)
    if capped is not None:
        raise IncompleteAnswer(f"{profile.url}: incomplete answer ({capped})", cause="cap")
    if profile.anytime_ms is not None and elapsed_s * 1000 >= ANYTIME_MARGIN * profile.anytime_ms:
        raise IncompleteAnswer(
            f"{profile.url}: possibly incomplete answer (it took {elapsed_s:.1f} s, beyond Virtuoso's anytime "
            f"limit of {profile.anytime_ms / 1000:g} s, so the engine may have cut it short without saying so)"
        )


def _partial_flag(
    status: int, headers: Mapping[str, str], payload: Mapping[str, object], n_rows: int
) -> str | None:
    if status == 206:
        return "HTTP 206 partial result"
    if headers.get("x-sql-state", "").strip() == "S1TAT" or "x-sparql-anytime" in headers:
        return "the engine flagged it partial: anytime timeout"
    meta = payload.get("meta")
    if isinstance(meta, Mapping):
        total = meta.get("result-size-total")
        if isinstance(total, int) and total > n_rows:
            return f"the engine sent {n_rows} of {total} rows"
    return None


def _capped(query: str, n_rows: int, headers: Mapping[str, str], profile: EndpointProfile) -> str | None:
    caps = [c for c in (announced_cap(headers), profile.max_rows) if c]
    if not caps:
        return None
    cap = min(caps)
    limit = top_limit(query)
    if n_rows == cap and (limit is None or limit > cap):
        return f"{n_rows} rows, the endpoint's row cap"
    return None
