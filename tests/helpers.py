"""Helpers the tests share: signing up, writing posts and comments, checking an error's shape.

Lesson: a test file should read on its own. Fixtures (the database, the client, signed-in users)
are in `conftest.py`; the plain functions and values a test calls are here, imported by name like
any module, so a reader can follow them with "go to definition".
"""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SMTPSession
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, make_url, text
from sqlmodel import Session, SQLModel, create_engine

from blog.config import normalise_database_url, settings
from blog.database import enable_sqlite_foreign_keys, get_engine, get_session
from tests.servers import free_port

PASSWORD = "correct horse battery"
# Set, the suite runs on this PostgreSQL database instead of in-memory SQLite (CI does both);
# TEST_REDIS_URL adds the tests of tests/redis/.
TEST_DATABASE_URL = normalise_database_url(os.environ.get("TEST_DATABASE_URL", "")) or None
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None


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


def assert_error(response: httpx2.Response, status_code: int, code: str) -> None:
    """The response is an error in the documented shape, with this status and code."""
    assert response.status_code == status_code, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["code"] == code


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    """Collects every SQL statement the engine runs inside the `with` block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def an_unreachable_database(app: FastAPI) -> Iterator[None]:
    """The app's sessions and engine on a database that cannot be opened (no such directory)."""
    engine = create_engine("sqlite:////nonexistent-directory/blog.db")

    def unreachable_session() -> Iterator[Session]:
        with Session(engine) as session:
            yield session

    app.dependency_overrides[get_engine] = lambda: engine
    app.dependency_overrides[get_session] = unreachable_session
    yield
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


@contextmanager
def database_of_its_own(sqlite_file: Path) -> Iterator[Engine]:
    """An engine on a database no other test shares, every table created: a new PostgreSQL
    database with TEST_DATABASE_URL, otherwise the SQLite file `sqlite_file`."""
    if TEST_DATABASE_URL is not None:
        with fresh_postgres_database(TEST_DATABASE_URL) as url:
            engine = create_engine(url)
            SQLModel.metadata.create_all(engine)
            yield engine
            engine.dispose()
        return
    engine = create_engine(f"sqlite:///{sqlite_file}")
    enable_sqlite_foreign_keys(engine)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


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


def send_mail_through(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """Settings that send email through an SMTP server on 127.0.0.1:`port`, without TLS."""
    monkeypatch.setattr(settings, "email_backend", "smtp")
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_starttls", False)
    monkeypatch.setattr(settings, "smtp_timeout", 5)


@contextmanager
def smtp_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on a free port, and settings that send email through it."""
    handler = Inbox()
    port = free_port()
    send_mail_through(monkeypatch, port)
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield handler
    finally:
        server.stop()
