"""The OpenAPI document as a contract: every route's error answers, derived in one place.

A route's possible error statuses follow from what it depends on, so they are read off its
dependency tree rather than listed by hand on each route (where they would drift):

- it needs the services (store, Redis, NATS): 400 (bad input a command or query refuses),
  503 with `Retry-After` (a server it needs is down);
- it needs a caller: 401 (no or bad token), 403 (a capability or step-up missing); it sends
  a command without one: 401 (the credential the command carries is refused);
- it takes a body: 400 (one that is not JSON);
- it is rate limited (a signed-in caller, or an anonymous route limited by address): 429
  with `Retry-After`;
- it has a path id: 404; it changes state (a command) or can wait for a store position
  (`after`): 409;
- every route: 422 (a body or parameter the schema refuses) and 500.

A route that sends a command takes an `Idempotency-Key` header: its sender reads it itself
(api/idempotency.py), and the header is documented here, as FastAPI would for a parameter.

The document is committed as `docs/openapi.json`; `make openapi` rewrites it, and a unit test
fails while the served one differs (docs/api.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.auth import _services, client_address, get_authenticated, get_caller, get_services
from api.dependencies import get_audit_log, get_push
from api.dispatch import anonymous_sender, signed_in_sender
from api.idempotency import IDEMPOTENCY_KEY_PARAMETER
from api.models import ErrorResponse
from api.params import checked_after

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: input a command or query refuses (`error.code` says which)",
    401: "Not authenticated: no access token, or one that is invalid, expired or revoked",
    403: "Forbidden: the caller lacks a capability or a recent step-up",
    404: "Not found (or not the caller's to see)",
    409: "Conflict: the state changed, the answer was already given, or the view is behind",
    422: "Invalid request: a body or parameter the schema refuses",
    429: "Rate limited: retry after `Retry-After` seconds",
    500: "Unexpected server error",
    503: "A server Cairn needs is down: retry after `Retry-After` seconds",
}

# The signed-in caller and sender find the services and the caller themselves (decision 0057).
_NEEDS_SERVICES: set[Callable[..., Any]] = {
    _services,
    get_services,
    get_push,
    get_audit_log,
    get_caller,
    signed_in_sender,
}
_NEEDS_CALLER: set[Callable[..., Any]] = {get_authenticated, get_caller, signed_in_sender}
# A signed-in command's sender enforces the caller's limit itself (on the command's thread).
_RATE_LIMITED: set[Callable[..., Any]] = {get_caller, signed_in_sender, client_address}
# Commands sent without a caller carry a credential of their own (a passkey assertion, a
# refresh token, a device code) that can be refused.
_CARRIES_CREDENTIAL: set[Callable[..., Any]] = {anonymous_sender}
_SENDS_COMMANDS: set[Callable[..., Any]] = {signed_in_sender, anonymous_sender}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def error_statuses(route: APIRoute) -> set[int]:
    """The error statuses `route` can answer, from its dependencies, path and method."""
    calls = set(_calls(route.dependant))
    statuses = {422, 500}
    if calls & _NEEDS_SERVICES:
        statuses |= {400, 503}
    if calls & _NEEDS_CALLER:
        statuses |= {401, 403}
    if calls & _CARRIES_CREDENTIAL:
        statuses.add(401)
    if route.body_field is not None:
        statuses.add(400)  # a body that is not JSON at all
    if calls & _RATE_LIMITED:
        statuses.add(429)
    if route.dependant.path_params:
        statuses.add(404)
    if checked_after in calls or (route.methods or set()) - {"GET", "HEAD"}:
        statuses.add(409)
    return statuses


def sends_commands(route: APIRoute) -> bool:
    return bool(set(_calls(route.dependant)) & _SENDS_COMMANDS)


def document_errors(router: APIRouter) -> APIRouter:
    """Add the error answers each of the router's routes can give to its documented
    responses (before it is included), and the `Idempotency-Key` header to a route that sends
    commands (after its own parameters, where FastAPI puts a header). What a route documents
    itself is kept, and must name its model: FastAPI reads the models of a route's own
    entries when the route is made."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if sends_commands(route):
            extra = dict(route.openapi_extra or {})
            parameters = extra.get("parameters", [])
            if IDEMPOTENCY_KEY_PARAMETER not in parameters:  # each app made documents it once
                extra["parameters"] = [*parameters, IDEMPOTENCY_KEY_PARAMETER]
            route.openapi_extra = extra
        # A copy: routes may share one `responses` dict, and each gets its own statuses.
        route.responses = {status: dict(answer) for status, answer in route.responses.items()}
        for status in sorted(error_statuses(route)):
            documented = route.responses.setdefault(status, {})
            documented.setdefault("model", ErrorResponse)
            documented.setdefault("description", ERROR_DESCRIPTIONS[status])
            if status in (429, 503):
                documented.setdefault("headers", RETRY_AFTER)
    return router


def render(app: FastAPI) -> str:
    """The document as committed: stable key order, one trailing newline."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
