"""SQLite's side of DATABASE_STATEMENT_TIMEOUT: a write that waits for another writer's lock on
the database file longer than the limit is a 503 `database_unavailable`, not a hang.
(PostgreSQL's statement and lock timeouts are in `tests/postgres/test_time_limits.py`.) And the
server's side: a connection whose client reads nothing of its answer is dropped once the
buffers have been full for `UNREAD_SECONDS` (`blog/connections.py`)."""

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import SQLModel

from blog.config import settings
from blog.database import make_engine
from tests.helpers import PASSWORD, assert_error
from tests.test_connections import dropped_unread

TIMEOUT = 0.5


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    return tmp_path / "blog.db"


@pytest.fixture(name="engine")  # the `client` fixture's database: this file
def file_engine(database_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setattr(settings, "database_statement_timeout", TIMEOUT)
    engine = make_engine(f"sqlite:///{database_file}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_write_that_waits_for_a_locked_file_answers_503_in_time(
    client: TestClient, database_file: Path
) -> None:
    account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    token = client.post("/auth/register", json=account).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    other_writer = sqlite3.connect(database_file, isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        started = time.perf_counter()
        response = client.post("/posts", headers=headers, json={"title": "t", "body": "b"})
        waited = time.perf_counter() - started
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()

    assert_error(response, 503, "database_unavailable")
    assert TIMEOUT <= waited < TIMEOUT + 1
    posted = client.post("/posts", headers=headers, json={"title": "t", "body": "b"})
    assert posted.status_code == 201


def test_a_connection_that_reads_nothing_of_its_answer_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert dropped_unread(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n", monkeypatch)  # 64 MiB
