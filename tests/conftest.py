"""Test fixtures: a database per test, a client wired to it, and signed-in users.

Lesson: tests never touch `blog.db`. The app's `get_session` dependency is overridden so every
request gets a session on the test's database. By default that is a fresh in-memory SQLite
database (`sqlite://` with `StaticPool`, so all sessions share its one connection), built with
`create_all`, foreign keys on as in the app. With `TEST_DATABASE_URL` set to a PostgreSQL database,
the same tests run there instead: the schema is built once, and each test runs inside a
transaction that is rolled back at its end (the app's commits become savepoints), so tests stay
independent and need no order. Tests that only make sense on PostgreSQL (concurrency, outages,
the Procfile) live in `tests/postgres/` and are collected only then. The environment is set
before `blog` is imported, because settings are read once at import.
"""

import logging
import os
import secrets

os.environ.update(
    ENVIRONMENT="test",
    DATABASE_URL="sqlite://",
    JWT_SECRET=secrets.token_urlsafe(32),
    BCRYPT_ROUNDS="4",  # the minimum: hashing stays real but takes about a millisecond
    CORS_ORIGINS="",
    LOG_LEVEL="INFO",
)

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from functools import partial
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SMTPSession
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, make_url, text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from blog.config import normalise_database_url, settings
from blog.database import (
    enable_sqlite_foreign_keys,
    get_engine,
    get_session,
    get_session_factory,
    open_session,
)
from blog.main import app
from tests.servers import free_port

TEST_DATABASE_URL = normalise_database_url(os.environ.get("TEST_DATABASE_URL", "")) or None
collect_ignore = []
if TEST_DATABASE_URL is None:
    collect_ignore.append("postgres")  # these tests need a PostgreSQL server
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
if TEST_REDIS_URL is None:
    collect_ignore.append("redis")  # and these a Redis server
if not Path("/usr/bin/chromium").exists():
    # CI installs Debian's chromium (.ci/run); without it there, fail rather than test less.
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests, but /usr/bin/chromium is missing")
    collect_ignore.append("browser")

# Modules whose every test is marked slow. With `-m "not slow"` they are not even imported:
# schemathesis builds its 2,100 cases while the module is collected (2.5 s), before any
# deselection could drop them.
ONLY_SLOW_TESTS = {"test_api_contract.py", "test_lessons.py", "test_docs_in_chromium.py"}


def raise_logging_errors(handler: logging.Handler, record: logging.LogRecord) -> None:
    """Like a warning, a log line that cannot be written fails the test that wrote it (logging
    would print `--- Logging error ---` and go on)."""
    raise  # the error being handled: logging calls this from inside its `except`


logging.Handler.handleError = raise_logging_errors  # type: ignore[method-assign, assignment]


@pytest.fixture(autouse=True)
def log_handlers_outlive_the_test() -> Iterator[None]:
    """Put back the root logger's handlers after each test. A test that runs `python -m blog`
    makes the app's log handler again, on the `sys.stdout` of that moment: pytest's capture of
    that one test, closed when it ends; every later test's log line would then fail to write."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("markexpr") == "not slow" and collection_path.name in ONLY_SLOW_TESTS:
        return True
    return None  # pytest decides as usual


PASSWORD = "correct horse battery"


@dataclass
class Account:
    """A registered user as a test sees it: what was sent, and the token that came back."""

    id: int
    email: str
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """One engine and one schema for the whole run on PostgreSQL (TEST_DATABASE_URL)."""
    assert TEST_DATABASE_URL is not None
    engine = create_engine(TEST_DATABASE_URL)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    yield engine
    SQLModel.metadata.drop_all(engine)
    engine.dispose()


def in_memory_sqlite_engine() -> Engine:
    """A new, empty in-memory database with every table, foreign keys on as in the app."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    enable_sqlite_foreign_keys(engine)
    SQLModel.metadata.create_all(engine)
    return engine


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if TEST_DATABASE_URL is not None:
        yield request.getfixturevalue("postgres_engine")
        return
    engine = in_memory_sqlite_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def bind(engine: Engine) -> Iterator[Engine | Connection]:
    """What the test's sessions run on: the fresh SQLite engine, or on PostgreSQL one connection
    inside a transaction that is rolled back when the test ends."""
    if engine.dialect.name == "sqlite":
        yield engine
        return
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session(bind: Engine | Connection) -> Iterator[Session]:
    """A session for a test to look at what was stored."""
    with open_session(bind) as session:
        yield session


@contextmanager
def client_on(engine: Engine, bind: Engine | Connection) -> Iterator[TestClient]:
    """A TestClient whose app uses `engine` (health) and sessions on `bind` (everything else)."""

    def get_test_session() -> Iterator[Session]:
        with open_session(bind) as session:
            yield session

    app.dependency_overrides[get_engine] = lambda: engine
    app.dependency_overrides[get_session] = get_test_session
    app.dependency_overrides[get_session_factory] = lambda: partial(open_session, bind)
    with TestClient(app) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
def client(engine: Engine, bind: Engine | Connection) -> Iterator[TestClient]:
    with client_on(engine, bind) as client:
        yield client


class ExplodingSession:
    def __init__(self) -> None:
        raise RuntimeError("secret internals: password=hunter2")


def exploding_session() -> Iterator[Session]:
    yield ExplodingSession()  # type: ignore[misc]


@pytest.fixture
def broken_client(client: TestClient) -> Iterator[TestClient]:
    """A client whose every database session raises a bug, as an unexpected error would."""
    app.dependency_overrides[get_session] = exploding_session
    with TestClient(app, raise_server_exceptions=False) as broken:
        yield broken


def register(
    client: TestClient, username: str, email: str | None = None, password: str = PASSWORD
) -> Account:
    email = email or f"{username.lower()}@example.com"
    response = client.post(
        "/auth/register", json={"email": email, "username": username, "password": password}
    )
    assert response.status_code == 201, response.text
    token = response.json()["access_token"]
    user_id = int(jwt.decode(token, options={"verify_signature": False})["sub"])
    return Account(user_id, email, username, password, token)


@pytest.fixture
def user(client: TestClient) -> Account:
    return register(client, "ada")


@pytest.fixture
def other_user(client: TestClient) -> Account:
    return register(client, "grace")


class Inbox:
    """An aiosmtpd handler that keeps what it receives, or refuses everything."""

    def __init__(self, refuse: bool = False) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        self.refuse = refuse

    async def handle_DATA(self, server: object, session: SMTPSession, envelope: Envelope) -> str:
        if self.refuse:
            return "550 mailbox unavailable"
        self.messages.append((envelope, message_from_bytes(envelope.content)))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def use_smtp(monkeypatch: pytest.MonkeyPatch) -> int:
    """Settings that send through an SMTP server on a free local port; returns the port."""
    port = free_port()
    monkeypatch.setattr(settings, "email_backend", "smtp")
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_starttls", False)
    monkeypatch.setattr(settings, "smtp_timeout", 5)
    return port


@pytest.fixture
def inbox(use_smtp: int) -> Iterator[Inbox]:
    handler = Inbox()
    server = Controller(handler, hostname="127.0.0.1", port=use_smtp)
    server.start()
    yield handler
    server.stop()


def assert_error(response, status_code: int, code: str) -> None:  # type: ignore[no-untyped-def]
    """The response is an error in the documented shape, with this status and code."""
    assert response.status_code == status_code, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["code"] == code


@pytest.fixture
def third_user(client: TestClient) -> Account:
    return register(client, "linus")


def create_post(
    client: TestClient, author: Account, title: str = "A title", body: str = "A body."
) -> dict[str, Any]:
    response = client.post("/posts", headers=author.headers, json={"title": title, "body": body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def create_comment(
    client: TestClient, author: Account, post_id: int, body: str = "Nice post."
) -> dict[str, Any]:
    response = client.post(
        f"/posts/{post_id}/comments", headers=author.headers, json={"body": body}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    """Collects every SQL statement the engine runs inside the `with` block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Savepoints are how tests isolate themselves on PostgreSQL, not work the app asked for.
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def database_of_its_own(sqlite_file: Path | None = None) -> Iterator[Engine]:
    """An engine on a database no other test shares, every table created: a new PostgreSQL
    database with TEST_DATABASE_URL; otherwise `sqlite_file` (whose commits other connections
    see), or a new in-memory SQLite database."""
    if TEST_DATABASE_URL is not None:
        with fresh_postgres_database(TEST_DATABASE_URL) as url:
            engine = create_engine(url)
            SQLModel.metadata.create_all(engine)
            yield engine
            engine.dispose()
        return
    if sqlite_file is None:
        engine = in_memory_sqlite_engine()
    else:
        engine = create_engine(f"sqlite:///{sqlite_file}")
        enable_sqlite_foreign_keys(engine)
        SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of `server_url`, dropped afterwards."""
    name = f"blog_test_{secrets.token_hex(6)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rebuild_post_statements() -> None:
    """For tests that change what the posts' statements are built from (TOTAL_CAP, the tables):
    they are built once, on first use (`@cache` in `blog/posts/router.py`)."""
    from blog.posts import router as posts_router  # step 3: the tests of steps 1-2 lack it

    for built in (
        posts_router.select_public_posts,
        posts_router.select_public_post,
        posts_router.select_page_of_posts,
    ):
        built.cache_clear()
