"""Error handling: one JSON shape for every error the API returns, whatever raised it.

Lesson: clients should never have to guess what an error looks like. Every failure, whether it is a
rule of ours (`DomainError` and its subclasses), a request FastAPI could not validate, an unknown
path, an unreachable database or a bug, leaves as `{"detail": ..., "code": "stable_snake_case"}`.
`code` is for programs, `detail` for people. Unexpected exceptions are logged with their traceback
and answered with a bare 500 `internal_error`: the traceback never reaches the client.
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

from blog.headers import security_headers

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


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
    """An expected failure with an HTTP status and a stable code; raise a subclass from a route."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(
        self, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if headers is not None:
            self.headers = headers


class BadRequest(DomainError):
    pass


class NotAuthenticated(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"
    headers = BEARER_CHALLENGE


class InvalidToken(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_token"
    headers = BEARER_CHALLENGE


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class RateLimited(DomainError):
    """Too many attempts: try again after `retry_after` seconds (sent as `Retry-After`)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


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

ERROR_DESCRIPTIONS = {
    400: "Bad request: wrong credentials, or a body that is not UTF-8",
    401: "Not authenticated, or the token is invalid or expired",
    403: "Signed in, but not allowed to do this",
    404: "Not found",
    409: "Conflicts with existing data",
    413: "The request body is larger than MAX_BODY_BYTES",
    422: "The request failed validation",
    429: "Too many attempts; `Retry-After` says how many seconds to wait",
    503: "The database is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each listed status documented with `ErrorResponse`."""
    return {
        code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]} for code in statuses
    }


def error_json(
    status_code: int, detail: Any, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers)


async def handle_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return error_json(error.status_code, error.detail, error.code, error.headers)


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
    return error_json(error.status_code, error.detail, code, headers)


async def handle_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Only where/why/what: Pydantic's `input` would echo the request back (passwords included).
    field_errors = [
        {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]}
        for problem in error.errors()
    ]
    return error_json(422, field_errors, "validation_error")


async def handle_database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The first line says why (refused, timed out, no free connection in the pool). The engine
    # hides SQL parameters (`hide_parameters`), so no user data reaches the log.
    reason = str(error).splitlines()[0]
    logger.error("database unavailable during %s %s: %s", request.method, request.url.path, reason)
    message = "The database is unavailable. Try again shortly."
    return error_json(503, message, "database_unavailable")


async def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error during %s %s", request.method, request.url.path)
    # This answer is sent from outside every middleware, so it adds their headers itself.
    headers = security_headers(request.url.path)
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        headers["X-Request-ID"] = request_id
    return error_json(500, "Internal server error.", "internal_error", headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    # Refused or dropped connections, and a pool with no free connection in time.
    for unavailable in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(unavailable, handle_database_unavailable)
    # `Exception` goes to Starlette's outermost middleware, which answers with this handler and
    # then re-raises so the server can log it as well.
    app.add_exception_handler(Exception, handle_unexpected_error)
