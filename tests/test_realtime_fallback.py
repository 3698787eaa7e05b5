"""With REDIS_URL set but Redis unreachable, notifications still reach this process's sockets."""

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from blog.config import settings
from blog.main import app
from tests.helpers import Account, create_comment, create_post
from tests.servers import REPO_ROOT, free_port


@pytest.fixture
def client_with_unreachable_redis(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(settings, "redis_url", f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(app) as with_redis:  # its lifespan starts the hub's Redis listener
        yield with_redis


def test_events_fall_back_to_this_process_when_redis_is_down(
    client_with_unreachable_redis: TestClient,
    user: Account,
    other_user: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = client_with_unreachable_redis
    post = create_post(client, user)
    with (
        caplog.at_level(logging.WARNING, logger="blog.hub"),
        client.websocket_connect(f"/ws/notifications?token={user.token}") as socket,
    ):
        assert socket.receive_json()["type"] == "ready"
        comment = create_comment(client, other_user, post["id"])
        assert socket.receive_json()["comment_id"] == comment["id"]
    assert "redis publish failed" in caplog.text
    at_start_up = [record.getMessage() for record in caplog.get_records("setup")]
    assert any("redis subscription lost" in message for message in at_start_up)


@pytest.mark.slow  # starts a server or a Python process
def test_without_redis_url_the_redis_package_is_not_even_imported() -> None:
    """The redis client costs a process about 5 MiB of memory; an app without Redis skips it."""
    environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    check = "import sys, blog.main; print(sorted(m for m in sys.modules if m.startswith('redis')))"
    loaded = subprocess.run(
        [sys.executable, "-c", check],
        env=environment,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
