"""Rate limits with REDIS_URL: the counts live in Redis, so replicas share them. Failed logins
spread over two server processes add up to one limit."""

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from blog.config import settings
from blog.main import app
from tests.helpers import PASSWORD, TEST_REDIS_URL, Account, assert_error
from tests.redis.test_notifications_across_processes import sign_up
from tests.servers import post_form, request


@pytest.fixture(autouse=True)
def no_counts_in_redis() -> Iterator[None]:
    """Counts of an earlier run (ids restart with every new database) are not this run's."""
    assert TEST_REDIS_URL is not None
    server = redis.Redis.from_url(TEST_REDIS_URL)

    def forget() -> None:
        for key in server.scan_iter("LIMITS:*"):
            server.delete(key)

    forget()
    yield
    forget()
    server.close()


def login(base_url: str, password: str) -> tuple[int, dict[str, str]]:
    return post_form(f"{base_url}/auth/login", {"username": "ada", "password": password})


@pytest.mark.slow  # starts a server or a Python process
def test_failed_logins_on_two_processes_add_up_to_one_limit(
    two_servers: tuple[str, str],
) -> None:
    first, second = two_servers
    sign_up(first, "ada")
    half = settings.login_max_failures // 2
    for server in [first] * half + [second] * (settings.login_max_failures - half):
        assert login(server, "wrong password")[0] == 400
    for server in (first, second):
        status, headers = login(server, PASSWORD)
        assert status == 429
        assert 0 < int(headers["retry-after"]) <= settings.login_window_seconds
    assert request(f"{first}/health")[0] == 200


def test_in_one_process_the_counts_live_in_redis(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "redis_url", TEST_REDIS_URL)
    form = {"username": user.username, "password": "wrong password"}
    with TestClient(app) as first_start:  # its lifespan makes counters in Redis
        for _ in range(settings.login_max_failures):
            assert first_start.post("/auth/login", data=form).status_code == 400
    with TestClient(app) as restarted:  # new counters: nothing in memory, all in Redis
        assert_error(restarted.post("/auth/login", data=form), 429, "rate_limited")
