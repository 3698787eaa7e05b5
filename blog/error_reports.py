"""Error reports: every unhandled error sent to Sentry, with nothing personal in it.

Lesson: a log line says that an error happened; an error report carries its traceback and the
request it broke to a service that groups the reports and tells you when a new one appears.
With `SENTRY_DSN` set, sentry-sdk's FastAPI integration reports every unhandled error. What
leaves the app is decided here: nothing that says who the user is (no user, no client address,
no cookies, no query strings), no local variables (they hold passwords and tokens mid-request),
and `scrub` takes out what would still go: the authorization and cookie headers, the cookies,
a WebSocket URL's query (its token), and the bodies of `/auth/*` and `/users/me*` (passwords,
emails, reset tokens). Each report carries the request id, as the request's log line does, so
the two can be matched.
"""

from typing import Any
from urllib.parse import urlsplit

import sentry_sdk

from blog.config import settings
from blog.logs import current_request_id

SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}
# sentry-sdk's `data_collection`: who the user is, their address, cookies, query strings, SQL
# parameters and local variables never leave; headers and bodies do, then `scrub` trims them.
WHAT_MAY_BE_COLLECTED: Any = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "denylist", "terms": [*SECRET_HEADERS, "forwarded"]}},
    "url_query_params": {"mode": "off"},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}
PRIVATE_BODIES = ("/auth/", "/users/me")


def scrub(event: Any, hint: Any) -> Any:
    """Sentry's `before_send`: the report as it may leave, with the request id added."""
    request = event.get("request") or {}
    headers = request.get("headers") or {}
    request["headers"] = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
    request.pop("cookies", None)
    path = urlsplit(request.get("url", "")).path
    if path.startswith(PRIVATE_BODIES):
        request.pop("data", None)
    if path.startswith("/ws/"):
        request.pop("query_string", None)
    event.setdefault("tags", {})["request_id"] = current_request_id.get()
    return event


def start_error_reports() -> None:
    """Report unhandled errors to `SENTRY_DSN`, if it is set (called before the app is made)."""
    if settings.sentry_dsn is None:
        return
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment,
        data_collection=WHAT_MAY_BE_COLLECTED,
        before_send=scrub,
    )
