"""The OpenAI-compatible backend: ``compat`` (the backend), ``transport`` (HTTP, retries), ``protocol`` (server
dialects, reply parsing), ``templates`` (chat templates for raw-text continuation)."""
