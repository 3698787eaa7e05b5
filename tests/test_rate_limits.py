"""Brute force: failed logins per account and client, registrations per client, 429 with
Retry-After; the counting falls back to the process when Redis fails; bcrypt takes turns."""

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import limits.storage.memory
import pytest
from fastapi.testclient import TestClient
from limits import RateLimitItemPerMinute
from limits.storage import Storage, storage_from_string
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, func, select

import blog.rate_limits
from blog import security
from blog.config import settings
from blog.database import make_engine
from blog.main import app
from blog.rate_limits import Counters
from blog.users.models import User
from tests.conftest import PASSWORD, Account, assert_error, client_on

WRONG = "not the password"


def login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", data={"username": username, "password": password})


def fail_logins(client: TestClient, username: str, times: int) -> None:
    for _ in range(times):
        assert_error(login(client, username, WRONG), 400, "invalid_credentials")


def assert_rate_limited(response, window: int) -> None:  # type: ignore[no-untyped-def]
    assert_error(response, 429, "rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= window


@pytest.fixture
def other_address(client: TestClient) -> Iterator[TestClient]:
    """The same app and database, seen from another client address."""
    with TestClient(app, client=("203.0.113.9", 50000)) as other:
        yield other


def test_after_the_limit_even_the_right_password_is_a_429(
    client: TestClient, user: Account
) -> None:
    fail_logins(client, user.username, settings.login_max_failures)
    assert_rate_limited(login(client, user.username), settings.login_window_seconds)
    assert_rate_limited(login(client, user.username, WRONG), settings.login_window_seconds)


def test_email_and_username_count_as_one_account(client: TestClient, user: Account) -> None:
    half = settings.login_max_failures // 2
    fail_logins(client, user.email, half)
    fail_logins(client, user.username.upper(), settings.login_max_failures - half)
    assert_error(login(client, user.email), 429, "rate_limited")
    assert_error(login(client, user.username), 429, "rate_limited")


def test_other_accounts_and_other_clients_are_unaffected(
    client: TestClient, user: Account, other_user: Account, other_address: TestClient
) -> None:
    fail_logins(client, user.username, settings.login_max_failures)
    assert login(client, other_user.username).status_code == 200
    assert login(other_address, user.username).status_code == 200


def test_an_unknown_name_counts_by_its_text(client: TestClient) -> None:
    fail_logins(client, "nobody", settings.login_max_failures)
    assert_error(login(client, "NOBODY", WRONG), 429, "rate_limited")
    assert_error(login(client, "somebody", WRONG), 400, "invalid_credentials")


def test_a_success_forgets_the_failures_before_it(client: TestClient, user: Account) -> None:
    fail_logins(client, user.username, settings.login_max_failures - 1)
    assert login(client, user.username).status_code == 200
    fail_logins(client, user.username, settings.login_max_failures - 1)
    assert login(client, user.username).status_code == 200


class Clock:
    """Stands in for the `time` module where the counters read the time."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


def test_once_the_window_has_passed_logins_are_allowed_again(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()  # the counters' clock, moved by the test instead of waited for
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(blog.rate_limits, "time", clock)  # for Retry-After
    monkeypatch.setattr(settings, "login_max_failures", 2)
    monkeypatch.setattr(settings, "login_window_seconds", 1)
    fail_logins(client, user.username, 2)
    assert_rate_limited(login(client, user.username), 1)
    clock.now += 0.9
    assert_rate_limited(login(client, user.username), 1)
    clock.now += 0.2
    assert login(client, user.username).status_code == 200


def test_a_refused_login_costs_no_bcrypt_time(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_logins(client, user.username, settings.login_max_failures)
    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        checks.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    assert_error(login(client, user.username), 429, "rate_limited")
    assert checks == []


def test_registrations_per_client_are_limited(
    client: TestClient,
    other_address: TestClient,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "register_max_per_client", 3)

    def register(via: TestClient, name: str):  # type: ignore[no-untyped-def]
        account = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        return via.post("/auth/register", json=account)

    assert [register(client, f"user{index}").status_code for index in range(3)] == [201] * 3
    assert_rate_limited(register(client, "one_too_many"), 3600)
    assert register(other_address, "from_elsewhere").status_code == 201
    assert session.exec(select(func.count()).select_from(User)).one() == 4


def test_counting_carries_on_in_the_process_when_redis_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nothing_listens = storage_from_string("redis://127.0.0.1:1/0", wrap_exceptions=True)
    assert isinstance(nothing_listens, Storage)
    counters = Counters(nothing_listens)
    two_a_minute = RateLimitItemPerMinute(2)
    with caplog.at_level(logging.WARNING, logger="blog.rate_limits"):
        assert [counters.hit(two_a_minute, "key") for _ in range(3)] == [True, True, False]
        assert 0 < counters.seconds_until_allowed(two_a_minute, "key") <= 60
        counters.clear(two_a_minute, "key")
        assert counters.hit(two_a_minute, "key")
    assert "counting in this process" in caplog.text


def test_bcrypt_takes_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """However many threads log in at once, at most BCRYPT_SLOTS hashes run at the same time."""
    running, most = 0, 0
    lock = threading.Lock()
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    stored = security.hash_password(PASSWORD)
    threads = [
        threading.Thread(target=security.verify_password, args=(PASSWORD, stored)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == security.BCRYPT_SLOTS


@pytest.fixture
def pooled_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file behind a real connection pool, as the app runs it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'blog.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_no_database_connection_is_held_while_bcrypt_works(
    pooled_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of logins waiting their turn for bcrypt must not hold every pooled connection
    (reads would then wait for one): each request gives its connection back first."""
    security.dummy_password_hash()  # made once per process; made now, it is not counted below
    held_during_bcrypt: list[int] = []
    real_checkpw, real_hashpw = bcrypt.checkpw, bcrypt.hashpw

    def checkpw(password: bytes, hashed: bytes) -> bool:
        held_during_bcrypt.append(pooled_engine.pool.checkedout())  # type: ignore[attr-defined]
        return real_checkpw(password, hashed)

    def hashpw(password: bytes, salt: bytes) -> bytes:
        held_during_bcrypt.append(pooled_engine.pool.checkedout())  # type: ignore[attr-defined]
        return real_hashpw(password, salt)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    with client_on(pooled_engine, pooled_engine) as client:
        account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
        token = client.post("/auth/register", json=account).json()["access_token"]
        assert login(client, "ada").status_code == 200
        assert login(client, "nobody").status_code == 400
        change = {"current_password": PASSWORD, "new_password": "a brand new secret"}
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/users/me/password", json=change, headers=headers).status_code == 204
    assert len(held_during_bcrypt) == 5  # register, login, unknown login, check and new hash
    assert held_during_bcrypt == [0] * 5
