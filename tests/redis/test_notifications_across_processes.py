"""Notifications across processes: two uvicorn servers, one database, one Redis.

A user's socket is held by one process; the comment that concerns them is posted through the
other. With REDIS_URL the event crosses over; without it, it is lost, which is why the setting
exists. Collected only with TEST_REDIS_URL (CI starts the machine's Redis and sets it).
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.helpers import PASSWORD, TEST_REDIS_URL
from tests.redis.conftest import server_environment
from tests.servers import free_port, request, running, wait_until_healthy

pytestmark = pytest.mark.slow  # every test here starts server processes


def sign_up(base_url: str, username: str) -> str:
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    status, token = request(f"{base_url}/auth/register", "POST", body)
    assert status == 201, token
    return str(token["access_token"])


@contextmanager
def listen(base_url: str, token: str) -> Iterator[ClientConnection]:
    """A notifications socket, once the server says it is listening."""
    with connect(base_url.replace("http", "ws") + f"/ws/notifications?token={token}") as socket:
        assert json.loads(socket.recv(timeout=5))["type"] == "ready"
        yield socket


def comment_on_a_new_post(base_url: str, author: str, commenter: str) -> int:
    status, post = request(
        f"{base_url}/posts",
        "POST",
        {"title": "t", "body": "b"},
        {"Authorization": f"Bearer {author}"},
    )
    assert status == 201
    status, comment = request(
        f"{base_url}/posts/{post['id']}/comments",
        "POST",
        {"body": "from the other process"},
        {"Authorization": f"Bearer {commenter}"},
    )
    assert status == 201
    return int(comment["id"])


def test_an_event_reaches_a_socket_held_by_another_process(
    two_servers: tuple[str, str],
) -> None:
    first, second = two_servers
    author, commenter = sign_up(first, "ada"), sign_up(first, "grace")
    with listen(second, author) as socket:  # the socket lives in the second process
        comment_id = comment_on_a_new_post(first, author, commenter)  # the comment in the first
        event = json.loads(socket.recv(timeout=5))
    assert event["type"] == "comment.created"
    assert event["comment_id"] == comment_id
    assert event["commenter"]["username"] == "grace"


@pytest.mark.parametrize("request_redis", [None])
def test_without_redis_the_event_stays_in_its_process(
    two_servers: tuple[str, str],
) -> None:
    first, second = two_servers
    author, commenter = sign_up(first, "ada"), sign_up(first, "grace")
    with listen(second, author) as socket:
        comment_on_a_new_post(first, author, commenter)
        with pytest.raises(TimeoutError):
            socket.recv(timeout=1)


@pytest.mark.parametrize("ending", ["logout", "account deletion"])
def test_ending_the_tokens_closes_sockets_held_by_another_process(
    two_servers: tuple[str, str], ending: str
) -> None:
    first, second = two_servers
    token = sign_up(first, "ada")
    signed_in = {"Authorization": f"Bearer {token}"}
    with listen(second, token) as socket:  # the socket lives in the second process
        if ending == "logout":
            status, _ = request(f"{first}/auth/logout", "POST", headers=signed_in)
        else:
            status, _ = request(f"{first}/users/me", "DELETE", headers=signed_in)
        assert status == 204
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=2)
        waited = time.monotonic() - started
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert waited < 2


def test_deactivating_closes_sockets_held_by_the_servers(
    two_servers: tuple[str, str], tmp_path: Path
) -> None:
    """`python -m blog users deactivate` runs in a process of its own: Redis carries the close."""
    first, second = two_servers
    token = sign_up(first, "ada")
    with listen(first, token) as one, listen(second, token) as other:
        subprocess.run(
            [sys.executable, "-m", "blog", "users", "deactivate", "ada"],
            env=server_environment(tmp_path, TEST_REDIS_URL),
            capture_output=True,
            timeout=60,
            check=True,
        )
        for socket in (one, other):
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_tokens_in_websocket_urls_never_reach_the_logs(tmp_path: Path) -> None:
    environment = server_environment(tmp_path, TEST_REDIS_URL)
    port = free_port()
    with running([sys.executable, "-m", "blog", "--port", str(port)], environment) as server:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_healthy(base_url, server)
        token = sign_up(base_url, "ada")
        with listen(base_url, token):
            pass
    output: str = server.output  # type: ignore[attr-defined]
    assert "/ws/notifications?token=[redacted]" in output  # uvicorn's line, redacted
    assert token not in output


def test_uvicorn_refuses_frames_over_64_kib(two_servers: tuple[str, str]) -> None:
    first, _ = two_servers
    with connect(first.replace("http", "ws") + "/ws/notify") as socket:
        socket.send("x" * 65536)
        assert socket.recv(timeout=5) == "Echo: " + "x" * 65536
        socket.send("x" * 65537)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
