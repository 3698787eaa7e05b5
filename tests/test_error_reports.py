"""Error reports: with SENTRY_DSN, an unhandled error reaches Sentry (here, a local HTTP server
that stands in for it) with its request id and without a password, a token or an email."""

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk
from fastapi.testclient import TestClient
from pydantic import SecretStr

from blog.config import settings
from blog.database import get_session
from blog.error_reports import scrub, start_error_reports
from blog.main import create_app
from tests.helpers import Account


class FakeSentry(BaseHTTPRequestHandler):
    """Keeps every event of every envelope posted to it, as Sentry's ingestion would."""

    events: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        for line in body.splitlines():
            item = json.loads(line)
            if isinstance(item, dict) and "exception" in item:
                self.events.append(item)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test reads the events, not the server's log


@pytest.fixture
def sentry_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Reports go to a local stand-in for Sentry while the test runs; its events, as received."""
    events: list[dict[str, Any]] = []
    handler = type("Handler", (FakeSentry,), {"events": events})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://public-key@127.0.0.1:{server.server_port}/1"
    monkeypatch.setattr(settings, "sentry_dsn", SecretStr(dsn))
    start_error_reports()
    try:
        yield events
    finally:
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.init()  # no DSN: reports off again for the rest of the run
        server.shutdown()
        server.server_close()


def a_bug() -> Iterator[None]:
    raise RuntimeError("the database driver broke")
    yield  # a generator, like the get_session it stands in for


def test_an_unhandled_error_arrives_with_its_request_id_and_nothing_personal(
    client: TestClient, user: Account, sentry_events: list[dict[str, Any]]
) -> None:
    reported = create_app()  # made after the reports start, as `blog/main.py` makes its own
    reported.dependency_overrides[get_session] = a_bug
    signed_in = {"Authorization": f"Bearer {user.token}", "Cookie": "session=s3cr3t"}
    new_email = {"email": "grace@example.com", "current_password": user.password}
    reset = {"token": "r" * 43, "new_password": "a long new passphrase"}
    with TestClient(reported, raise_server_exceptions=False) as broken:
        answers = [
            broken.patch("/users/me", json=new_email, headers=signed_in),
            broken.post("/auth/password-reset/confirm", json=reset),
            broken.post("/posts", json={"title": "A title", "body": "b"}, headers=signed_in),
        ]
    assert [answer.status_code for answer in answers] == [500, 500, 500]
    sentry_sdk.flush(timeout=5)
    reports = {report["tags"]["request_id"]: report for report in sentry_events}
    assert sorted(reports) == sorted(answer.headers["x-request-id"] for answer in answers)
    for report in reports.values():
        assert report["exception"]["values"][-1]["value"] == "the database driver broke"
    post_report = reports[answers[2].headers["x-request-id"]]
    assert post_report["request"]["data"] == {"title": "A title", "body": "b"}  # others' go
    sent = json.dumps(sentry_events)
    for secret in (user.password, user.token, "grace@example.com", "r" * 43, "s3cr3t"):
        assert secret not in sent
    assert "a long new passphrase" not in sent
    assert '"vars"' not in sent  # no local variables in any frame


def test_scrub_keeps_what_helps_and_drops_what_identifies() -> None:
    event = {
        "request": {
            "url": "http://testserver/posts",
            "headers": {"Authorization": "Bearer t", "Cookie": "c", "User-Agent": "curl"},
            "cookies": {"c": "1"},
            "data": {"title": "A post"},
        }
    }
    request = scrub(event, {})["request"]
    assert request == {
        "url": "http://testserver/posts",
        "headers": {"User-Agent": "curl"},
        "data": {"title": "A post"},
    }


@pytest.mark.parametrize(
    "path", ["/auth/login", "/auth/password-reset/confirm", "/users/me", "/users/me/password"]
)
def test_scrub_drops_the_bodies_of_accounts_and_sign_ins(path: str) -> None:
    event = {"request": {"url": f"http://testserver{path}", "data": {"password": "p"}}}
    assert "data" not in scrub(event, {})["request"]


def test_scrub_drops_a_sockets_query_its_token() -> None:
    event = {"request": {"url": "http://testserver/ws/notifications", "query_string": "token=t"}}
    assert "query_string" not in scrub(event, {})["request"]


def test_without_a_dsn_nothing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "sentry_dsn", None)
    start_error_reports()
    assert sentry_sdk.get_client().dsn is None  # no client that sends anywhere
