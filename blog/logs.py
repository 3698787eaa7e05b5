"""Logs for monitoring: one line per request, a request id to follow it, JSON in production.

Lesson: in production nobody reads a terminal; a log platform (Railway's, or any other) searches
lines. So every request leaves exactly one line with its method, path, status, duration and a
request id: taken from the `X-Request-ID` header when a proxy sent a sensible one, generated
otherwise, and echoed in the response so a user's bug report can be matched to the log. Every
other line logged while serving that request carries the same id. Production writes one JSON object
per line (machine-searchable); development writes readable text. Only the path is logged, never the
query string, headers or body, and `token=` values are redacted from every line (uvicorn's own),
so tokens and passwords cannot end up in the logs. From lesson 21 on, the same place counts
each request for `/metrics` (`blog/metrics.py`).
"""

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.metrics import count_request  # step 21

REQUEST_ID_HEADER = "X-Request-ID"
# What the log says of a request whose client left before the answer (nginx's 499), so that a
# client hanging up mid-body is not counted as the server's 500.
CLIENT_CLOSED_REQUEST = 499
# A request id from outside is only trusted if it is short and plain (no log injection).
ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")
# `token=` as a query string may write it: any of its letters percent-encoded (`tok%65n=`) is
# still the parameter `token` once the server decodes it.
TOKEN_IN_QUERY = re.compile(r"((?:t|%74)(?:o|%6f)(?:k|%6b)(?:e|%65)(?:n|%6e)=)[^&\s\"']+", re.I)

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")
request_logger = logging.getLogger("blog.requests")


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class RedactTokens(logging.Filter):
    """Removes `token=...` from every line. uvicorn logs a WebSocket's path with its query string,
    and `/ws/notifications?token=<JWT>` carries a token there. The one exception is an email
    shown on the console in development (`blog/mail.py`), which is there to be read."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "shows_tokens", False):
            return True
        message = record.getMessage()
        if "=" in message:
            record.msg, record.args = TOKEN_IN_QUERY.sub(r"\1[redacted]", message), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, request fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            # "info", "warn", "error": the level names log platforms (Railway's too) filter on.
            "level": record.levelname.lower().replace("warning", "warn"),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        line.update({key: getattr(record, key) for key in REQUEST_FIELDS if hasattr(record, key)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(*, json_lines: bool, level: str) -> None:
    """Send every log line, uvicorn's included, through one handler on the root logger."""
    handler = logging.StreamHandler(sys.stdout)
    handler.set_name("blog")
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    # Replace our own handler if the app is built twice; leave anyone else's (pytest's) alone.
    root.handlers = [existing for existing in root.handlers if existing.name != "blog"]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(logging.NOTSET)  # LOG_LEVEL decides, for them too
    # Our request line replaces uvicorn's access log (which would also log query strings).
    logging.getLogger("uvicorn.access").disabled = True


def request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if ACCEPTABLE_REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """ASGI middleware: assigns the request id, echoes it, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        # Each request runs in its own task with its own copy of the context, so this value is
        # seen by everything serving this request (threadpool included) and by nothing else.
        current_request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # if the app fails before answering, the server answers 500
        started = time.perf_counter()
        went_away = False  # the client left before the answer: not the server's failure

        async def receive_noting_a_disconnect() -> Message:
            nonlocal went_away
            message = await receive()
            went_away = went_away or message["type"] == "http.disconnect"
            return message

        answered = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive_noting_a_disconnect, send_with_request_id)
        finally:
            if went_away and not answered:
                status = CLIENT_CLOSED_REQUEST
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            method, path = scope["method"], scope["path"]
            fields = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
            request_logger.info("%s %s %s %.1fms", method, path, status, duration_ms, extra=fields)
            count_request(scope, status, time.perf_counter() - started)  # step 21
