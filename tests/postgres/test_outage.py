"""Database outages: the app answers 503 quickly while PostgreSQL is unreachable, and recovers by
itself (no restart) when it comes back, thanks to `pool_pre_ping`.

The app talks to PostgreSQL through `DatabaseProxy`, which the test cuts in two ways: connections
refused (a database that is down or restarting) and connections that hang (a network that drops
packets, where only a timeout helps).
"""

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine, make_url

from blog.config import settings
from blog.database import make_engine
from tests.helpers import PASSWORD, assert_error
from tests.postgres.proxy import DatabaseProxy


@pytest.fixture
def proxy(database_url: str) -> Iterator[DatabaseProxy]:
    target = make_url(database_url)
    proxy = DatabaseProxy(target.host or "127.0.0.1", target.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture(name="engine")  # the `client` fixture's database: behind the proxy
def engine_through_proxy(
    database_url: str, proxy: DatabaseProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setattr(settings, "database_connect_timeout", 2)
    monkeypatch.setattr(settings, "health_check_timeout", 1.5)
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def timed(call: Callable[[], Response]) -> tuple[Response, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_outage_then_recovery_without_restart(client: TestClient, proxy: DatabaseProxy) -> None:
    register = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    assert client.post("/auth/register", json=register).status_code == 201
    assert client.get("/health").status_code == 200

    proxy.refuse()
    health, refused_seconds = timed(lambda: client.get("/health"))
    assert health.status_code == 503
    assert health.json() == {"ok": False, "database": "unreachable"}
    assert refused_seconds < 2
    users, users_refused_seconds = timed(lambda: client.get("/users"))
    assert_error(users, 503, "database_unavailable")
    login = client.post("/auth/login", data={"username": "ada", "password": PASSWORD})
    assert_error(login, 503, "database_unavailable")

    proxy.hang()
    health, hanging_seconds = timed(lambda: client.get("/health"))
    assert health.status_code == 503
    assert hanging_seconds < 2
    users, users_hanging_seconds = timed(lambda: client.get("/users"))
    assert_error(users, 503, "database_unavailable")
    assert users_hanging_seconds < 2 + 1  # DATABASE_CONNECT_TIMEOUT, then the answer

    proxy.forward()
    assert client.get("/health").status_code == 200
    recovered = client.get("/users")
    assert recovered.status_code == 200
    assert recovered.json()["total"] == 1
    print(
        f"\n/health during an outage: {refused_seconds * 1000:.0f} ms (refused), "
        f"{hanging_seconds * 1000:.0f} ms (hanging); /users: "
        f"{users_refused_seconds * 1000:.0f} ms (refused), "
        f"{users_hanging_seconds * 1000:.0f} ms (hanging)"
    )
