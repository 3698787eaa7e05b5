"""Request logs: one line per request with a request id, JSON in production, and no secrets."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from blog.config import Settings, settings
from blog.database import describe_database, get_session, make_engine
from blog.logs import (
    JsonFormatter,
    RedactTokens,
    RequestIdFilter,
    RequestLogMiddleware,
    configure_logging,
)
from blog.main import app, create_app
from tests.helpers import PASSWORD, Account, register

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Every log line written during the test, as the production (JSON) handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous_level)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    configure_logging(json_lines=False, level=settings.log_level)


def request_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "blog.requests"]


def test_each_request_logs_one_line(client: TestClient, log_lines: LogLines) -> None:
    response = client.get("/users?limit=5")
    [line] = request_lines(log_lines())
    assert line["method"] == "GET"
    assert line["path"] == "/users"  # never the query string
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["message"].startswith("GET /users 200 ")


def test_a_generated_request_id_is_echoed(client: TestClient) -> None:
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_request_id_from_the_caller_is_kept(client: TestClient, log_lines: LogLines) -> None:
    response = client.get("/health", headers={"X-Request-ID": "railway-edge.42_a"})
    assert response.headers["X-Request-ID"] == "railway-edge.42_a"
    assert request_lines(log_lines())[0]["request_id"] == "railway-edge.42_a"


@pytest.mark.parametrize("unsafe", [b"two words", b"x" * 129, b"tab\tbed", "ünï".encode()])
def test_an_unsafe_request_id_is_replaced(client: TestClient, unsafe: bytes) -> None:
    response = client.get("/health", headers={b"X-Request-ID": unsafe})
    assert response.headers["X-Request-ID"].encode() != unsafe
    assert len(response.headers["X-Request-ID"]) == 32


def test_errors_and_other_lines_carry_the_request_id(
    client: TestClient, log_lines: LogLines
) -> None:
    def failing_session() -> Iterator[None]:
        raise RuntimeError("boom")
        yield  # pragma: no cover

    app.dependency_overrides[get_session] = failing_session
    with TestClient(app, raise_server_exceptions=False) as broken:
        response = broken.get("/users")
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    lines = log_lines()
    [error] = [line for line in lines if line["logger"] == "blog.errors"]
    assert error["request_id"] == request_id
    assert "RuntimeError: boom" in error["exception"]
    assert request_lines(lines)[0]["status"] == 500


def test_production_writes_json_lines(
    monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setattr(settings, "environment", "production")
    create_app()
    [handler] = [handler for handler in logging.getLogger().handlers if handler.name == "blog"]
    assert isinstance(handler.formatter, JsonFormatter)
    assert logging.getLogger("uvicorn.access").disabled  # our request line replaces it


def test_development_writes_readable_text(restore_logging: None) -> None:
    configure_logging(json_lines=False, level="INFO")
    [handler] = [handler for handler in logging.getLogger().handlers if handler.name == "blog"]
    assert not isinstance(handler.formatter, JsonFormatter)
    record = logging.LogRecord("blog", logging.INFO, __file__, 1, "hello", None, None)
    RequestIdFilter().filter(record)
    assert handler.format(record).endswith("INFO blog [-] hello")


def test_start_up_line_names_environment_and_database(
    engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="blog"), TestClient(create_app()):
        pass
    assert f"blog starting: environment=test database={describe_database('sqlite://')}" in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("url", "described"),
    [
        (
            "postgresql+psycopg2://blog:s3cret@db.internal:5432/railway?sslmode=require",
            "postgresql://db.internal:5432/railway",
        ),
        ("sqlite:///./blog.db", "sqlite:///./blog.db"),
    ],
)
def test_the_database_is_described_without_credentials(url: str, described: str) -> None:
    assert describe_database(url) == described


def test_sql_parameters_are_hidden_from_errors_and_logs() -> None:
    assert make_engine("sqlite://").hide_parameters
    assert make_engine("postgresql+psycopg2://u:p@127.0.0.1:1/db").hide_parameters


def test_passwords_and_tokens_never_reach_the_logs(client: TestClient, log_lines: LogLines) -> None:
    account: Account = register(client, "ada")
    new_password = "another secret phrase"
    client.post("/auth/login", data={"username": "ada", "password": PASSWORD})
    client.post("/auth/login", data={"username": "ada", "password": "wrong-" + PASSWORD})
    client.post("/auth/login", data={"username": "ada", "password": "p" * 100})
    client.post(
        "/users/me/password",
        headers=account.headers,
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    client.get("/users/me", headers=account.headers)
    client.get("/users/me", headers={"Authorization": "Bearer forged.token.value"})
    client.post(
        "/auth/register", json={"email": "x@example.com", "username": "x", "password": "q" * 80}
    )

    written = json.dumps(log_lines())
    assert len(request_lines(log_lines())) >= 8
    for secret in (PASSWORD, new_password, "p" * 100, "q" * 80, account.token, "forged.token"):
        assert secret not in written
    assert "Bearer" not in written and "Authorization" not in written


def test_json_lines_carry_exceptions() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "blog", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed"
    assert line["level"] == "error"
    assert "ValueError: broken" in line["exception"]


def test_tokens_in_query_strings_are_redacted_from_every_line() -> None:
    # The line uvicorn logs when it accepts a WebSocket, with its path and query string.
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/notifications?token=eyJhbGciOi.eyJzdWIi.c2lnbmF0&x=1"),
        None,
    )
    RedactTokens().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "WebSocket /ws/notifications?token=[redacted]&x=1" [accepted]'
    )


@pytest.mark.parametrize("name", ["tok%65n", "%74oken", "%74%6f%6b%65%6e", "%74%6F%6B%65%6E"])
def test_a_token_parameter_written_in_percent_escapes_is_redacted_too(name: str) -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "%s",
        (f"/ws/notifications?{name}=eyJ.s.g",),
        None,
    )
    RedactTokens().filter(record)
    assert record.getMessage() == f"/ws/notifications?{name}=[redacted]"


def test_an_email_shown_on_the_console_keeps_its_token() -> None:
    """The one line a token may appear in: a development email, shown to be read and used."""
    email = logging.LogRecord(
        "blog.mail", logging.INFO, __file__, 1, "email to %s:\n%s", ("a@x.test", "token=abc"), None
    )
    email.shows_tokens = True
    other = logging.LogRecord("blog", logging.INFO, __file__, 1, "token=abc", None, None)
    RedactTokens().filter(email)
    RedactTokens().filter(other)
    assert email.getMessage() == "email to a@x.test:\ntoken=abc"
    assert other.getMessage() == "token=[redacted]"


def test_log_level_is_case_insensitive() -> None:
    assert Settings(_env_file=None, log_level="debug").log_level == "DEBUG"


def test_a_client_that_leaves_before_the_answer_is_a_499_not_a_500(log_lines: LogLines) -> None:
    """The body limit lets no app run for a body that never arrives: nobody answers, and
    nobody failed either."""
    messages: list[Message] = [
        {"type": "http.request", "body": b"x" * 10, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def reads_until_gone(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent to a client that left")

    scope = {"type": "http", "method": "POST", "path": "/posts", "headers": []}
    anyio.run(RequestLogMiddleware(reads_until_gone), scope, receive, send)
    [line] = request_lines(log_lines())
    assert line["status"] == 499
