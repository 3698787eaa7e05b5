"""Busy is not broken: requests wait for a session or a password-hash slot on the event loop, at
most for the wait their setting gives, and are then answered 503 `server_busy` with `Retry-After`.

The slot tests swap in semaphores with no slot free, so every wait runs out at once and no test
waits on a clock. The last test starts a real server with 4 threads and a pool of 2 connections
and sends 40 signed-in writes at once: each is answered, a 2xx or that 503, and never the pool's
own timeout (which a thread waiting for a connection would hit).
"""

import os
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import bcrypt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from blog import capacity, database
from blog.capacity import HASHES_AT_ONCE_PER_CLIENT, a_slot_of
from blog.config import Settings, settings
from blog.cpus import cgroup_cpu_quota
from blog.database import make_engine
from blog.errors import ServerBusy
from blog.main import app
from tests.helpers import (
    PASSWORD,
    TEST_DATABASE_URL,
    assert_error,
    fresh_postgres_database,
    register,
)
from tests.servers import free_port, migrate, request, running, wait_until_healthy


def assert_busy(response: Any) -> None:
    assert_error(response, 503, "server_busy")
    assert response.headers["Retry-After"] == "1"


def test_a_slot_is_held_by_one_holder_at_a_time_and_a_newcomer_waits_then_is_refused() -> None:
    async def two_holders_of_one_slot() -> list[str]:
        slots, said = anyio.Semaphore(1), []
        async with a_slot_of(slots, wait=1):
            try:
                async with a_slot_of(slots, wait=0.01):
                    said.append("second holder got in")  # pragma: no cover (the bug)
            except ServerBusy:
                said.append("second holder refused")
        async with a_slot_of(slots, wait=0.01):
            said.append("free again")
        return said

    assert anyio.run(two_holders_of_one_slot) == ["second holder refused", "free again"]


TURN = asynccontextmanager(capacity.take_a_turn)
SESSION_SLOT = asynccontextmanager(capacity.take_session_slot)
HASH_SLOT = asynccontextmanager(capacity.take_password_hash_slot)


@asynccontextmanager
async def a_session_slot(client: str) -> AsyncIterator[None]:
    """What a request that opens a session takes: its client's turn, then a session slot."""
    async with TURN(client), SESSION_SLOT(None):
        yield


@asynccontextmanager
async def a_hash_slot(client: str) -> AsyncIterator[None]:
    """What a request that hashes takes: its client's turn, then a hash turn and a slot."""
    async with TURN(client), HASH_SLOT(None, client):
        yield


@pytest.mark.parametrize(
    ("slots_name", "take_a_slot", "at_once"),
    [
        ("password_hash_slots", a_hash_slot, HASHES_AT_ONCE_PER_CLIENT),
        ("session_slots", a_session_slot, settings.sessions_per_client),
    ],
)
def test_one_client_holds_a_few_slots_at_most_and_another_client_still_gets_one(
    monkeypatch: pytest.MonkeyPatch,
    slots_name: str,
    take_a_slot: Callable[[str], AbstractAsyncContextManager[None]],
    at_once: int,
) -> None:
    slots = anyio.Semaphore(at_once + 2)
    monkeypatch.setattr(capacity, slots_name, slots)
    monkeypatch.setattr(settings, "password_hash_timeout", 0.05)
    monkeypatch.setattr(settings, "database_pool_timeout", 0.05)

    async def flood_then_another_client() -> list[str]:
        said: list[str] = []
        holding = anyio.Event()

        async def flooder() -> None:
            try:
                async with take_a_slot("203.0.113.7"):
                    said.append("flooder holds a slot")
                    await holding.wait()
            except ServerBusy:
                said.append("flooder waits its turn, then 503")

        async with anyio.create_task_group() as tasks:
            for _ in range(at_once + 3):
                tasks.start_soon(flooder)
            await anyio.sleep(0.01)
            assert slots.value == 2  # its own turns' worth of slots, not every slot
            async with take_a_slot("198.51.100.1"):
                said.append("another client holds a slot")
            await anyio.sleep(0.1)  # the flooder's other three run out of their wait
            holding.set()
        return said

    said = anyio.run(flood_then_another_client)
    assert Counter(said) == {
        "flooder holds a slot": at_once,
        "another client holds a slot": 1,
        "flooder waits its turn, then 503": 3,
    }
    assert slots.value == at_once + 2
    assert dict(capacity.client_turns) == {}  # a client's turns go with its last request


def test_a_request_waiting_behind_its_own_client_holds_no_hash_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hash_slots = anyio.Semaphore(1)
    monkeypatch.setattr(capacity, "password_hash_slots", hash_slots)
    monkeypatch.setattr(settings, "database_pool_timeout", 0.2)

    async def busy_client_then_a_login_from_elsewhere() -> list[str]:
        said: list[str] = []
        holding = anyio.Event()

        async def slow_read() -> None:
            async with a_session_slot("203.0.113.7"):
                await holding.wait()

        async def its_own_password_check() -> None:
            try:
                async with a_hash_slot("203.0.113.7"):
                    said.append("busy client hashes")  # pragma: no cover (its turns are taken)
            except ServerBusy:
                said.append("busy client waited for its own turn, then 503")

        async with anyio.create_task_group() as tasks:
            for _ in range(settings.sessions_per_client):
                tasks.start_soon(slow_read)
            await anyio.sleep(0.01)
            tasks.start_soon(its_own_password_check)
            await anyio.sleep(0.01)
            assert hash_slots.value == 1  # waiting for a turn, it holds no hash slot
            async with a_hash_slot("198.51.100.1"):
                said.append("a login from elsewhere hashes at once")
            await anyio.sleep(0.3)
            holding.set()
        return said

    assert anyio.run(busy_client_then_a_login_from_elsewhere) == [
        "a login from elsewhere hashes at once",
        "busy client waited for its own turn, then 503",
    ]


class NeverTaken:
    """A semaphore that fails the test if a request takes it."""

    async def acquire(self) -> None:
        raise AssertionError("a slot was taken before the client's turn")  # pragma: no cover

    def release(self) -> None:  # pragma: no cover
        pass


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/auth/login"), ("GET", "/posts"), ("POST", "/auth/register")]
)
def test_every_route_takes_its_clients_turn_before_any_slot(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    monkeypatch.setattr(database, "engine", engine)  # the app's own sessions, slots and all
    no_turn_free = anyio.Semaphore(0)
    monkeypatch.setitem(capacity.client_turns, ("testclient", "requests"), no_turn_free)
    monkeypatch.setattr(capacity, "password_hash_slots", NeverTaken())
    monkeypatch.setattr(capacity, "session_slots", NeverTaken())
    monkeypatch.setattr(settings, "database_pool_timeout", 0.01)
    form = {"username": "ada", "password": PASSWORD}
    with TestClient(app) as own_sessions:
        answer = own_sessions.request(method, path, data=form if path == "/auth/login" else None)
    assert_busy(answer)


def take_every_hash_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """No password-hash slot comes free: a route that hashes waits briefly, then answers 503."""
    monkeypatch.setattr(capacity, "password_hash_slots", anyio.Semaphore(0))
    monkeypatch.setattr(settings, "password_hash_timeout", 0.01)


def test_every_bcrypt_computation_runs_while_its_request_holds_a_hash_slot(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = anyio.Semaphore(1)
    monkeypatch.setattr(capacity, "password_hash_slots", slots)
    free_while_hashing: list[int] = []
    real_hashpw, real_checkpw = bcrypt.hashpw, bcrypt.checkpw

    def hashpw(password: bytes, salt: bytes) -> bytes:
        free_while_hashing.append(slots.value)
        return real_hashpw(password, salt)

    def checkpw(password: bytes, hashed: bytes) -> bool:
        free_while_hashing.append(slots.value)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    ada = register(client, "ada")  # a hash
    for username in ("ada", "nobody"):  # a check; a check against the dummy hash
        client.post("/auth/login", data={"username": username, "password": PASSWORD})
    change = {"current_password": PASSWORD, "new_password": "a brand new secret"}
    assert client.post("/users/me/password", headers=ada.headers, json=change).status_code == 204
    assert len(free_while_hashing) >= 5  # the dummy hash may have been made by an earlier test
    assert set(free_while_hashing) == {0}  # the one slot was taken every time
    assert slots.value == 1  # and given back


@pytest.fixture
def own_sessions(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client of the app's own `get_session` (no override: slots and all), on the test's
    database."""
    monkeypatch.setattr(database, "engine", engine)
    with TestClient(app) as client:
        yield client


def test_sessions_are_given_back(own_sessions: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    slots = anyio.Semaphore(2)
    monkeypatch.setattr(capacity, "session_slots", slots)
    ada = register(own_sessions, "ada")
    for _ in range(5):
        assert own_sessions.get("/posts").status_code == 200
        assert own_sessions.get("/posts/999999").status_code == 404  # a failing request too
        bad_token = {"Authorization": "Bearer x"}
        assert own_sessions.get("/users/me", headers=bad_token).status_code == 401
    assert own_sessions.get("/users/me", headers=ada.headers).status_code == 200
    assert slots.value == 2


def test_the_event_loop_gets_worker_threads_as_the_settings_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "worker_threads", 17)

    async def threads() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with TestClient(app) as started:  # its lifespan sizes the pool
        assert started.portal is not None
        assert started.portal.call(threads) == 17


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({"DATABASE_POOL_SIZE": "1", "DATABASE_MAX_OVERFLOW": "0"}, "at least 2"),
        ({"WORKER_THREADS": "14"}, "WORKER_THREADS must be more than the database sessions"),
        ({"PASSWORD_HASH_CONCURRENCY": "15"}, "PASSWORD_HASH_CONCURRENCY must be less"),
    ],
)
def test_threads_sessions_and_hash_slots_are_sized_together(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], says: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=says):
        Settings()


@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_the_cpu_quota_is_read_from_cgroups_v2_or_v1(
    tmp_path: Path, files: dict[str, str], cpus: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == cpus


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[str]:
    """A real server with 4 threads and a pool of 2 connections (1 session and 1 for /health),
    waiting 1 s for a session, on PostgreSQL (TEST_DATABASE_URL) or a SQLite file."""
    sqlite_file = nullcontext(f"sqlite:///{tmp_path / 'blog.db'}")
    database_url = fresh_postgres_database(TEST_DATABASE_URL) if TEST_DATABASE_URL else sqlite_file
    with database_url as url:
        migrate(url)
        port = free_port()
        environment = {
            **os.environ,
            "DATABASE_URL": url,
            "ENVIRONMENT": "test",
            "BCRYPT_ROUNDS": "4",
            "REGISTER_MAX_PER_CLIENT": "1000",
            "WORKER_THREADS": "4",
            "DATABASE_POOL_SIZE": "2",
            "DATABASE_MAX_OVERFLOW": "0",
            "DATABASE_POOL_TIMEOUT": "1",
            "PASSWORD_HASH_CONCURRENCY": "1",
        }
        command = [sys.executable, "-m", "uvicorn", "blog.main:app", "--port", str(port)]
        with running(command, environment) as server:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_healthy(base_url, server)
            yield base_url


@pytest.mark.slow
def test_forty_simultaneous_signed_in_writes_are_each_answered_with_a_2xx_or_server_busy(
    small_server: str,
) -> None:
    writers = []
    for index in range(4):
        body = {
            "email": f"w{index}@example.com",
            "username": f"writer{index}",
            "password": PASSWORD,
        }
        status, token = request(f"{small_server}/auth/register", "POST", body)
        assert status == 201, token
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        status, post = request(
            f"{small_server}/posts", "POST", {"title": "t", "body": "b"}, headers
        )
        assert status == 201, post
        writers.append((headers, post["id"]))
    start = threading.Barrier(40)

    def write(index: int) -> tuple[int, Any]:
        headers, post_id = writers[index % 4]
        start.wait()
        if index % 2:  # two database dependencies (the user, the post) before its body
            return request(f"{small_server}/posts/{post_id}", "PATCH", {"title": "new"}, headers)
        return request(f"{small_server}/posts", "POST", {"title": "t", "body": "b"}, headers)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(write, range(40)))

    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {200, 201, 503}, answers
    busy = [body for status, body in answers if status == 503]
    # Never `database_unavailable`, the pool's timeout: no request waited for a connection.
    assert {body["code"] for body in busy} <= {"server_busy"}, busy
    assert statuses[200] + statuses[201] > 0, answers
    assert request(f"{small_server}/health")[0] == 200


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("database_pool_size", 0),
        ("database_max_overflow", -1),
        ("database_pool_timeout", 0),
        ("database_connect_timeout", 1),  # PostgreSQL's client waits at least 2 s anyway
        ("health_check_timeout", 0),
    ],
)
def test_pool_and_timeout_settings_are_bounded(setting: str, value: float) -> None:
    with pytest.raises(ValidationError):
        values: dict[str, Any] = {setting: value}
        Settings(_env_file=None, **values)


def test_postgres_engines_take_pool_settings_from_settings() -> None:
    engine = make_engine("postgresql+psycopg2://user:pw@127.0.0.1:1/blog")
    assert engine.pool.size() == 5  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 10  # type: ignore[attr-defined]
    assert engine.pool._timeout == 10  # type: ignore[attr-defined]
    assert engine.pool._pre_ping
    engine.dispose()
