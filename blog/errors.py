"""Error handling: one JSON shape for every error the API returns, whatever raised it.

Lesson: clients should never have to guess what an error looks like. Every failure, whether it is a
rule of ours (a `DomainError` subclass: one per error code), a request FastAPI could not validate,
an unknown path, an unreachable database or a bug, leaves as `{"detail": ..., "code": "..."}`.
`code` is for programs, `detail` for people. A route raises the class that names its error
(`raise NotFound("Post not found.")`); the class carries the status, the code and any headers.
Unexpected exceptions are logged with their traceback and answered with a bare 500
`internal_error`: the traceback never reaches the client.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from blog.headers import security_headers  # step 14

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}  # every 401 says how to authenticate
CLOSE_THE_CONNECTION = {"Connection": "close"}  # the rest of a huge body is not worth reading
RETRY_SOON = {"Retry-After": "1"}  # seconds: long enough for a queue of requests to move on


class FieldError(BaseModel):
    """One reason a request failed validation: where (`loc`), why (`msg`) and what kind (`type`)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """The body of every error response."""

    detail: str | list[FieldError]
    code: str


class DomainError(Exception):
    """An expected failure: raise the subclass that names it, with a message for people
    (`raise NotFound("Post not found.")`); the class knows the status, the code and headers."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "bad_request"
    headers: dict[str, str] | None = None


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class WrongPassword(DomainError):
    code = "wrong_password"


class InvalidResetToken(DomainError):
    code = "invalid_reset_token"


class NotAuthenticated(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"
    headers = BEARER_CHALLENGE


class InvalidToken(NotAuthenticated):
    code = "invalid_token"


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class EmailTaken(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "email_taken"


class UsernameTaken(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "username_taken"


class PayloadTooLarge(DomainError):
    status_code = status.HTTP_413_CONTENT_TOO_LARGE
    code = "payload_too_large"
    headers = CLOSE_THE_CONNECTION


class RateLimited(DomainError):
    """Too many attempts: try again after `retry_after` seconds (sent as `Retry-After`)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class DatabaseUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "database_unavailable"


class ServerBusy(DomainError):
    """Every slot of a bounded resource (database sessions) stayed taken for the whole wait."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "server_busy"
    headers = RETRY_SOON


# Errors raised by FastAPI/Starlette themselves (unknown path, wrong method...) carry only a status.
CODE_FOR_HTTP_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


# What the OpenAPI document shows for each error code: a real answer.
ERROR_EXAMPLES: dict[str, str | list[dict[str, Any]]] = {
    "bad_request": "There was an error parsing the body",
    "invalid_credentials": "Incorrect email/username or password.",
    "wrong_password": "The current password is wrong.",
    "invalid_reset_token": "The reset token is invalid, used or expired. Ask for a new one.",
    "not_authenticated": "Not authenticated: send 'Authorization: Bearer <token>'.",
    "invalid_token": "The token is invalid or has expired.",
    "forbidden": "Only the post's author may change it.",
    "not_found": "Post not found.",
    "email_taken": "That email is already registered.",
    "username_taken": "That username is taken.",
    "payload_too_large": "The request body is larger than 262144 bytes.",
    "validation_error": [
        {
            "loc": ["body", "title"],
            "msg": "String should have at least 1 character",
            "type": "string_too_short",
        }
    ],
    "rate_limited": "Too many failed logins for this account; try again in 840 s.",
    "server_busy": "The server is busy. Try again in a moment.",
    "database_unavailable": "The database is unavailable. Try again shortly.",
}

# The codes of a status that every route answering with it may give; a route's own are its own.
COMMON_CODES: dict[int, list[str]] = {
    400: ["bad_request"],  # a body that cannot be parsed
    401: ["not_authenticated", "invalid_token"],
    403: ["forbidden"],
    404: ["not_found"],
    409: ["email_taken", "username_taken"],
    413: ["payload_too_large"],
    422: ["validation_error"],
    429: ["rate_limited"],
    503: ["server_busy", "database_unavailable"],
}


def error_responses(*answers: int | type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each error it may answer, in the `ErrorResponse` shape.
    A status stands for the codes any route may answer with it (`COMMON_CODES`), an error class
    for a code of the route's own (`InvalidCredentials`); `blog/openapi.py` adds their examples."""
    responses: dict[int | str, dict[str, Any]] = {}
    for answer in answers:
        if isinstance(answer, int):
            responses.setdefault(answer, {"model": ErrorResponse})["x-common-codes"] = True
        else:
            response = responses.setdefault(answer.status_code, {"model": ErrorResponse})
            response.setdefault("x-codes", []).append(answer.code)
    return responses


def error_json(error: DomainError) -> JSONResponse:
    body = {"detail": str(error), "code": error.code}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def handle_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    request.state.error_code = error.code  # step 21
    return error_json(error)


def allowed_methods(request: Request) -> str:
    """Every method the app serves at this path (Starlette's 405 names only the first route's)."""
    allowed = []
    for method in ("DELETE", "GET", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def handle_http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = CODE_FOR_HTTP_STATUS.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    body = {"detail": error.detail, "code": code}
    return JSONResponse(body, status_code=error.status_code, headers=headers)


async def handle_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Only where/why/what: Pydantic's `input` would echo the request back (passwords included).
    field_errors = [
        {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]}
        for problem in error.errors()
    ]
    return JSONResponse({"detail": field_errors, "code": "validation_error"}, status_code=422)


# PostgreSQL's SQLSTATEs for two transactions that each wait for the other (a deadlock, which the
# server ends by failing one) and for a transaction that lost to a concurrent one: contention,
# not an outage, so the client is told to try again.
CONTENTION_SQLSTATES = {"40P01", "40001"}


async def handle_database_error(request: Request, error: Exception) -> JSONResponse:
    # The first line says why (refused, timed out, deadlock). The engine hides SQL parameters
    # (`hide_parameters`), so no user data reaches the log.
    reason = str(error).splitlines()[0]
    logger.error("database error during %s %s: %s", request.method, request.url.path, reason)
    sqlstate = getattr(getattr(error, "orig", None), "pgcode", None)
    if sqlstate in CONTENTION_SQLSTATES:
        request.state.error_code = "server_busy"  # step 21
        return error_json(ServerBusy("The server is busy. Try again in a moment."))
    return error_json(DatabaseUnavailable("The database is unavailable. Try again shortly."))


async def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error during %s %s", request.method, request.url.path)
    headers: dict[str, str] = {}
    # This answer is sent from outside every middleware, so it adds their headers itself.
    headers |= security_headers(request.url.path)  # step 14
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        headers["X-Request-ID"] = request_id
    body = {"detail": "Internal server error.", "code": "internal_error"}
    return JSONResponse(body, status_code=500, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    # Refused or dropped connections, time limits, deadlocks, and a pool with no free connection
    # (which the session slots of `blog/capacity.py` keep requests from ever waiting for).
    for database_error in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(database_error, handle_database_error)
    # `Exception` goes to Starlette's outermost middleware, which answers with this handler and
    # then re-raises so the server can log it as well.
    app.add_exception_handler(Exception, handle_unexpected_error)
