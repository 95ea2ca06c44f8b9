"""Where the request that is being served came from, for the audit trail.

Set by RequestIdMiddleware for web requests; empty for the CLI and the task worker.
"""

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""


current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "sustain_request_context",
    default=RequestContext(),  # noqa: B039 - immutable default
)
