"""One error shape for everything: unknown paths, wrong methods, bad input, outages and bugs."""

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine, func, select

from blog.database import get_engine, get_session
from blog.main import app
from blog.users import accounts
from blog.users.models import User
from tests.helpers import PASSWORD, TEST_DATABASE_URL, assert_error


def test_an_unknown_path_is_a_404_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/no/such/path"), 404, "not_found")


def test_a_wrong_method_is_a_405_that_says_which_are_allowed(client: TestClient) -> None:
    assert client.put("/health").headers["Allow"] == "GET"
    response = client.put("/users/me")  # three routes share this path
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "DELETE, GET, PATCH"


def test_a_422_lists_each_field_error(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": "nope", "username": "x"})
    assert_error(response, 422, "validation_error")
    problems = {tuple(problem["loc"]): problem for problem in response.json()["detail"]}
    assert set(problems) == {("body", "email"), ("body", "username"), ("body", "password")}
    assert all(set(problem) == {"loc", "msg", "type"} for problem in problems.values())


def test_a_body_with_the_wrong_content_type_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/auth/register", content=b"email=a@b.c", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 422, "validation_error")


def test_an_unexpected_error_is_a_500_without_internals(
    broken_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="blog.errors"):
        response = broken_client.get("/users")
    assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "blog.errors"]
    assert "GET /users" in record.getMessage()
    assert record.exc_info is not None  # the traceback goes to the log
    assert isinstance(record.exc_info[1], RuntimeError)


@pytest.fixture
def unreachable_database_client(client: TestClient) -> Iterator[TestClient]:
    """A client whose database cannot be opened (a directory that does not exist)."""
    engine = create_engine("sqlite:////nonexistent-directory/blog.db")

    def unreachable_session() -> Iterator[Session]:
        with Session(engine) as session:
            yield session

    app.dependency_overrides[get_engine] = lambda: engine
    app.dependency_overrides[get_session] = unreachable_session
    yield client
    engine.dispose()


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


def test_routes_answer_503_when_the_database_is_unreachable(
    unreachable_database_client: TestClient,
) -> None:
    assert_error(unreachable_database_client.get("/users"), 503, "database_unavailable")
    login = unreachable_database_client.post(
        "/auth/login", data={"username": "ada", "password": PASSWORD}
    )
    assert_error(login, 503, "database_unavailable")


def test_a_registration_that_loses_a_uniqueness_race_is_a_409(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    assert client.post("/auth/register", json=payload).status_code == 201
    # Pretend the second request checked before the first one committed: the check passes, the
    # database's unique constraint refuses the insert.
    real_check = accounts.ensure_available
    checks: list[str] = []

    def check_too_early(*args: object, **kwargs: object) -> None:
        checks.append("check")
        if len(checks) > 1:
            real_check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(accounts, "ensure_available", check_too_early)
    payload["username"] = "someone_else"
    assert_error(client.post("/auth/register", json=payload), 409, "email_taken")
    assert session.exec(select(func.count()).select_from(User)).one() == 1


def test_the_suite_runs_on_the_database_it_was_asked_to(engine: Engine) -> None:
    # CI runs the suite twice; this makes sure the second run really is on PostgreSQL.
    expected = "postgresql" if TEST_DATABASE_URL else "sqlite"
    assert engine.dialect.name == expected
