"""The notification hub with REDIS_URL set, in one process: events make the round trip through
Redis (publish, then the hub's own listener delivers them)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from blog.config import settings
from blog.main import app
from tests.helpers import TEST_REDIS_URL, Account, create_comment, create_post


@pytest.fixture
def client_with_redis(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(settings, "redis_url", TEST_REDIS_URL)
    with TestClient(app) as with_redis:  # its lifespan subscribes the hub to Redis
        yield with_redis


def test_an_event_goes_through_redis_and_back(
    client_with_redis: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client_with_redis, user)
    with client_with_redis.websocket_connect(f"/ws/notifications?token={user.token}") as socket:
        assert socket.receive_json()["type"] == "ready"
        comment = create_comment(client_with_redis, other_user, post["id"])
        assert socket.receive_json()["comment_id"] == comment["id"]
