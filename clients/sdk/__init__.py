"""Cairn's Python SDK: sync (`Cairn`) and async (`AsyncCairn`) clients of the HTTP API.

It speaks only the HTTP contract (no import of the server's packages), so it can be copied
into any Python project that has httpx and pydantic.
"""

from clients.sdk.aclient import AsyncCairn
from clients.sdk.client import Cairn
from clients.sdk.core import Credentials
from clients.sdk.errors import (
    ApiError,
    BadRequest,
    CairnError,
    Conflict,
    Forbidden,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ServerError,
    StreamError,
    Unavailable,
    Unprocessable,
    Unreachable,
)
from clients.sdk.models import PushEvent, Run, StreamControl
from clients.sdk.passkeys import Authenticator
from clients.sdk.retry import RetryPolicy

__all__ = [
    "ApiError",
    "AsyncCairn",
    "Authenticator",
    "BadRequest",
    "Cairn",
    "CairnError",
    "Conflict",
    "Credentials",
    "Forbidden",
    "NotAuthenticated",
    "NotFound",
    "PushEvent",
    "RateLimited",
    "RetryPolicy",
    "Run",
    "ServerError",
    "StreamControl",
    "StreamError",
    "Unavailable",
    "Unprocessable",
    "Unreachable",
]
