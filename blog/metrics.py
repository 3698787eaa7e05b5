"""Metrics: `/metrics` in Prometheus's text format, for the scraper that holds `METRICS_TOKEN`.

Lesson: a log line tells what happened to one request; metrics count what happens to all of
them, cheaply enough to keep for months, graph and alert on. prometheus-client keeps the counts
in this process: requests by method, route template and status, and how long they took (counted
by the request log, `blog/logs.py`); the refusals that mean "too much" (429 `rate_limited`, 503
`server_busy`); the database connections in use and the open sockets, read when scraped; and the
waits for a password-hash slot (`blog/capacity.py`). Every series names the replica it comes
from (`RAILWAY_REPLICA_ID`, which Railway sets). Labels come from fixed sets (the known methods,
the route templates, `unmatched` for every other path), so a scanner trying a million paths
makes no new series. `/metrics` answers only while `METRICS_TOKEN` is set (else 404, like any
unknown path) and only to that token (else 401). The counts are this process's: one uvicorn
worker per process is the deployment; a second worker would need prometheus-client's
multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, a folder every worker writes to).
"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import Scope

from blog.config import settings
from blog.database import engine
from blog.errors import NotAuthenticated, NotFound
from blog.realtime import open_sockets

router = APIRouter()

REPLICA = settings.railway_replica_id
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REFUSAL_CODES = {"rate_limited", "server_busy"}

REQUESTS = Counter(
    "blog_http_requests", "HTTP requests answered", ["method", "route", "status", "replica"]
)
DURATION = Histogram(
    "blog_http_request_duration_seconds", "Time to answer a request", ["method", "route", "replica"]
)
REFUSALS = Counter("blog_refusals", "Requests refused as too many, by code", ["code", "replica"])
CONNECTIONS_IN_USE = Gauge(
    "blog_database_connections_in_use", "Connections checked out of the pool", ["replica"]
)
OPEN_SOCKETS = Gauge("blog_open_websockets", "WebSockets this process holds", ["replica"])
CONNECTIONS_IN_USE.labels(REPLICA).set_function(lambda: getattr(engine.pool, "checkedout", int)())
OPEN_SOCKETS.labels(REPLICA).set_function(lambda: open_sockets.total)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`/posts/{post_id}`), never the raw path."""
    return getattr(scope.get("route"), "path", "unmatched")


def count_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request (the request log calls this for every one)."""
    method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
    route = route_of(scope)
    REQUESTS.labels(method, route, str(status), REPLICA).inc()
    DURATION.labels(method, route, REPLICA).observe(seconds)
    code = scope.get("state", {}).get("error_code")
    if code in REFUSAL_CODES:
        REFUSALS.labels(code, REPLICA).inc()


bearer = HTTPBearer(auto_error=False)


def require_the_metrics_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """404 while `METRICS_TOKEN` is not set; 401 unless the request carries it as its bearer."""
    if settings.metrics_token is None:
        raise NotFound("Not Found")
    expected = settings.metrics_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not secrets.compare_digest(given, expected):
        raise NotAuthenticated("Send 'Authorization: Bearer <METRICS_TOKEN>'.")


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require_the_metrics_token)])
def metrics() -> Response:
    """Every series, in Prometheus's text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
