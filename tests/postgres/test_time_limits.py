"""No request waits on PostgreSQL longer than DATABASE_STATEMENT_TIMEOUT: a statement that runs
too long, or waits too long for a row another transaction holds, is cancelled by the server and
answered 503 `database_unavailable`."""

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from blog.config import settings
from blog.database import make_engine
from tests.helpers import PASSWORD, assert_error

TIMEOUT = 1.0


@pytest.fixture  # also the `client` fixture's database
def engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setattr(settings, "database_statement_timeout", TIMEOUT)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_every_connection_carries_the_time_limits(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "1s"
        assert connection.execute(text("SHOW lock_timeout")).scalar() == "1s"
        # What libpq was told: probe a silent connection after 5 s, give up on unacknowledged
        # data after the same limit as a statement.
        used = connection.connection.dbapi_connection.get_dsn_parameters()  # type: ignore[union-attr]
        assert used["keepalives"] == "1"
        assert used["keepalives_idle"] == "5"
        assert used["tcp_user_timeout"] == "1000"


def test_a_statement_that_runs_too_long_is_cancelled(engine: Engine) -> None:
    started = time.perf_counter()
    with engine.connect() as connection, pytest.raises(OperationalError, match="statement timeout"):
        connection.execute(text("SELECT pg_sleep(30)"))
    assert time.perf_counter() - started < TIMEOUT + 1


def test_a_request_blocked_by_a_lock_answers_503_in_time(
    client: TestClient, database_url: str
) -> None:
    account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    token = client.post("/auth/register", json=account).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    post_id = client.post("/posts", headers=headers, json={"title": "t", "body": "b"}).json()["id"]

    holder = create_engine(database_url)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with holder.begin() as connection:
            connection.execute(text(f"SELECT * FROM posts WHERE id = {post_id} FOR UPDATE"))
            locked.set()
            release.wait(30)

    holding = threading.Thread(target=hold_the_row)
    holding.start()
    try:
        assert locked.wait(10)
        started = time.perf_counter()
        response = client.patch(f"/posts/{post_id}", headers=headers, json={"title": "new"})
        waited = time.perf_counter() - started
    finally:
        release.set()
        holding.join()
        holder.dispose()

    assert_error(response, 503, "database_unavailable")
    assert waited < TIMEOUT + 1.5
    print(f"\na PATCH blocked by a row lock answered 503 after {waited * 1000:.0f} ms")
    # Once the lock is gone the same request goes through.
    assert (
        client.patch(f"/posts/{post_id}", headers=headers, json={"title": "new"}).status_code == 200
    )
