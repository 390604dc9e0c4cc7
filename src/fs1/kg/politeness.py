"""How hard fs1 may press an endpoint: User-Agent rules, request rate and concurrency by host, the rate limiter.

Defaults by host: every ``*.wikidata.org`` host gets one query at a time and 5 requests/s and must be told who is
asking (a User-Agent with a contact: Wikimedia rate-limits, then blocks, agents without one); loopback and private-
network hosts (the user's own mirror) get no spacing at all, since fs1's own spacing was two thirds of a run's time
against a local endpoint (issue 28; benchmarks/RESULTS.md P5b); any other host 20 requests/s, 4 at a time.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
import time
from urllib.parse import urlsplit

from fs1.kg.base import KGError

WIKIDATA_DOMAIN = "wikidata.org"
USER_AGENT_ENV = "FS1_USER_AGENT"
DEFAULT_USER_AGENT = (
    "fs1/0.1 (KG path retrieval for arXiv:2505.11140; set FS1_USER_AGENT to add a contact) httpx"
)
USER_AGENT_EXAMPLE = "fs1/0.1 (https://example.org/you; you@example.org)"
# A contact in a User-Agent: an e-mail address or a URL (Wikimedia's User-Agent policy asks for either).
CONTACT = re.compile(r"[^\s@()<>;]+@[^\s@()<>;]+\.[A-Za-z]{2,}|https?://[^\s()<>;]+")
WIKIDATA_RATE, PUBLIC_RATE, LOCAL_RATE = 5.0, 20.0, 0.0  # requests per second; 0 = no spacing


def endpoint_host(url: str) -> str:
    """The host name of an endpoint URL (used to pick polite defaults)."""
    return (urlsplit(url).hostname or "").lower()


def is_wikidata_host(url: str) -> bool:
    """True for ``wikidata.org`` and every ``*.wikidata.org`` host (query, query-main, query-scholarly, …)."""
    host = endpoint_host(url)
    return host == WIKIDATA_DOMAIN or host.endswith("." + WIKIDATA_DOMAIN)


def is_local_host(url: str) -> bool:
    """True for ``localhost`` and loopback, private-network and link-local addresses (no name is resolved)."""
    host = endpoint_host(url)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def default_rate(url: str) -> float:
    if is_wikidata_host(url):
        return WIKIDATA_RATE
    return LOCAL_RATE if is_local_host(url) else PUBLIC_RATE


def default_concurrency(url: str) -> int:
    return 1 if is_wikidata_host(url) else 4


def user_agent_for(url: str, configured: str | None) -> str:
    """The User-Agent to send: ``configured`` or ``$FS1_USER_AGENT``; Wikimedia hosts require one with a contact."""
    agent = (configured or os.environ.get(USER_AGENT_ENV) or "").strip()
    if not is_wikidata_host(url):
        return agent or DEFAULT_USER_AGENT
    if not agent:
        problem = "no User-Agent is set"
    elif not CONTACT.search(agent):
        problem = f"the User-Agent {agent!r} names no contact (an e-mail address or URL)"
    else:
        return agent
    raise KGError(
        f"{endpoint_host(url)} requires a User-Agent with a contact (Wikimedia policy: other agents are "
        f"rate-limited, then blocked), but {problem}; set {USER_AGENT_ENV} or --user-agent, "
        f"e.g. {USER_AGENT_EXAMPLE!r}"
    )


class RateLimiter:
    """Spaces request starts at least ``1/rate`` apart across threads (``rate`` 0: no spacing); ``pause`` holds
    everyone back (a 429's Retry-After)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may start a request."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)

    def pause(self, seconds: float) -> None:
        """No request may start within the next ``seconds``."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)
