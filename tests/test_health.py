"""`GET /health`: 200 when the database answers, 503 when it cannot be reached or fails."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import create_engine

from blog.database import get_engine, unreachable_database_message
from blog.main import app
from tests.helpers import an_unreachable_database


@pytest.fixture
def unreachable_database_client(client: TestClient) -> Iterator[TestClient]:
    with an_unreachable_database(app):
        yield client


def test_health_reports_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok"}


def test_health_is_503_when_the_database_is_unreachable(
    unreachable_database_client: TestClient,
) -> None:
    response = unreachable_database_client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "database": "unreachable"}


def test_health_is_503_when_the_database_answers_with_an_error(
    client: TestClient, tmp_path: Path
) -> None:
    """Connecting works, the query fails: still a 503 rather than a 500."""
    engine = create_engine(f"sqlite:///{tmp_path / 'refusing.db'}")

    @event.listens_for(engine, "checkout")
    def refuse_every_statement(dbapi_connection: sqlite3.Connection, *_: object) -> None:
        dbapi_connection.set_authorizer(lambda *_: sqlite3.SQLITE_DENY)

    app.dependency_overrides[get_engine] = lambda: engine
    response = client.get("/health")
    engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"ok": False, "database": "unreachable"}


def test_an_unreachable_database_is_described_in_one_masked_line() -> None:
    url = "postgresql+psycopg2://blog:s3cret@db.internal:5432/railway"
    error = OperationalError("SELECT 1", {}, Exception("connection refused\nDETAIL: more"))
    message = unreachable_database_message(url, error)
    assert message == (
        "DATABASE_URL: cannot connect to postgresql+psycopg2://blog:***@db.internal:5432/railway: "
        "connection refused"
    )
