"""What the manifest records of the server a run used (``OpenAIBackend.describe``): its kind, version, served model
and context length. fs1's own packages say nothing about a remote engine (the manifest's ``packages.vllm`` is the
local install, none at all on a machine that only talks to ``vllm serve``), so the server is asked.
"""

from __future__ import annotations

from typing import Any

from fs1.backends.base import BackendError
from fs1.backends.openai.transport import Transport
from fs1.redact import redact_url

# GET routes at the server root that name the engine's version, by server kind (vLLM's api_server: {"version": ...}).
VERSION_ROUTES = {"vllm": "version"}


def server_version(transport: Transport, flavour: str) -> str | None:
    """The server's own version where its kind publishes one; ``None`` otherwise (or when the route fails)."""
    route = VERSION_ROUTES.get(flavour)
    if route is None:
        return None
    try:
        reply = transport.get_json(route, root=True)
    except BackendError:  # an older server or a proxy without the route: the version stays unknown, said so
        return None
    version = reply.get("version")
    return version if isinstance(version, str) else None


def server_facts(
    transport: Transport, base_url: str, flavour: str, model: str, context: int | None
) -> dict[str, Any]:
    """The manifest's ``engine`` entry for a run over a server (the URL without credentials)."""
    return {
        "backend": "openai", "base_url": redact_url(base_url), "server": flavour,
        "server_version": server_version(transport, flavour), "model": model, "context_length": context,
    }  # fmt: skip
