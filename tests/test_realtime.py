"""WebSockets: the echo socket and its guards, and notifications pushed to a post's author."""

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import jwt
import pytest
from fastapi import WebSocket
from fastapi.testclient import TestClient

from blog.config import settings
from blog.hub import hub
from blog.realtime import MAX_FRAME_BYTES, MAX_MESSAGES_PER_SECOND
from tests.helpers import Account, create_comment, create_post


def closed_with(socket, code: int) -> None:  # type: ignore[no-untyped-def]
    """The server closes `socket` with `code` (after any echoes it still had to send)."""
    while True:
        message = socket.receive()
        if message["type"] == "websocket.close":
            assert message["code"] == code, message
            return


# --- /ws/notify ---------------------------------------------------------------------------------


def test_echo(client: TestClient) -> None:
    with client.websocket_connect("/ws/notify") as socket:
        socket.send_text("hello")
        assert socket.receive_text() == "Echo: hello"
        socket.send_text("ünïcödé 😀")
        assert socket.receive_text() == "Echo: ünïcödé 😀"


def test_a_binary_frame_closes_the_socket_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/ws/notify") as socket:
        socket.send_bytes(b"\x00\x01")
        closed_with(socket, 1003)


def test_a_frame_of_exactly_64_kib_is_echoed(client: TestClient) -> None:
    with client.websocket_connect("/ws/notify") as socket:
        socket.send_text("x" * MAX_FRAME_BYTES)
        assert socket.receive_text() == "Echo: " + "x" * MAX_FRAME_BYTES


@pytest.mark.parametrize("frame", ["x" * (MAX_FRAME_BYTES + 1), "é" * (MAX_FRAME_BYTES // 2 + 1)])
def test_a_frame_over_64_kib_closes_the_socket_with_1009(client: TestClient, frame: str) -> None:
    with client.websocket_connect("/ws/notify") as socket:
        socket.send_text(frame)
        closed_with(socket, 1009)


def test_a_flood_of_frames_closes_the_socket_with_1008(client: TestClient) -> None:
    with client.websocket_connect("/ws/notify") as socket:
        for index in range(MAX_MESSAGES_PER_SECOND + 5):
            socket.send_text(str(index))
        for index in range(MAX_MESSAGES_PER_SECOND):
            assert socket.receive_text() == f"Echo: {index}"
        closed_with(socket, 1008)


def test_a_steady_sender_is_not_a_flood(client: TestClient) -> None:
    with client.websocket_connect("/ws/notify") as socket:
        for index in range(MAX_MESSAGES_PER_SECOND):
            socket.send_text(str(index))
            assert socket.receive_text() == f"Echo: {index}"
        time.sleep(1.05)  # the next second starts a new allowance
        for index in range(MAX_MESSAGES_PER_SECOND):
            socket.send_text(str(index))
            assert socket.receive_text() == f"Echo: {index}"


def test_one_bad_socket_does_not_disturb_the_others(client: TestClient) -> None:
    with (
        client.websocket_connect("/ws/notify") as good,
        client.websocket_connect("/ws/notify") as bad,
    ):
        bad.send_bytes(b"binary")
        closed_with(bad, 1003)
        good.send_text("still here?")
        assert good.receive_text() == "Echo: still here?"


# --- /ws/notifications --------------------------------------------------------------------------


@contextmanager
def notifications(client: TestClient, token: str) -> Iterator[Any]:
    """A notifications socket, once the server says it is listening for this user."""
    with client.websocket_connect(f"/ws/notifications?token={token}") as socket:
        ready = socket.receive_json()
        assert ready["type"] == "ready"
        yield socket


@pytest.mark.parametrize(
    "query",
    ["", "?token=", "?token=garbage", "?token=a.b.c"],
    ids=["no token", "empty", "garbage", "malformed"],
)
def test_notifications_without_a_valid_token_close_with_1008(
    client: TestClient, query: str
) -> None:
    with client.websocket_connect(f"/ws/notifications{query}") as socket:
        closed_with(socket, 1008)


def test_notifications_with_an_expired_token_close_with_1008(
    client: TestClient, user: Account
) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    claims = {"sub": str(user.id), "iat": past, "exp": past + timedelta(hours=1)}
    expired = jwt.encode(claims, settings.jwt_secret_value, algorithm="HS256")
    with client.websocket_connect(f"/ws/notifications?token={expired}") as socket:
        closed_with(socket, 1008)


def test_notifications_for_a_deleted_user_close_with_1008(
    client: TestClient, user: Account
) -> None:
    client.delete("/users/me", headers=user.headers)
    with client.websocket_connect(f"/ws/notifications?token={user.token}") as socket:
        closed_with(socket, 1008)


def test_the_socket_says_when_it_is_listening(client: TestClient, user: Account) -> None:
    with client.websocket_connect(f"/ws/notifications?token={user.token}") as socket:
        assert socket.receive_json() == {"type": "ready", "user_id": user.id}


def test_the_author_hears_about_a_comment_on_their_post(
    client: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    with notifications(client, user.token) as socket:
        comment = create_comment(client, other_user, post["id"], body="Nice!")
        event = socket.receive_json()
    assert event == {
        "type": "comment.created",
        "post_id": post["id"],
        "comment_id": comment["id"],
        "commenter": comment["author"],
        "created_at": comment["created_at"],
    }
    assert event["commenter"]["username"] == other_user.username


def test_every_open_socket_of_the_author_hears_it(
    client: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    with notifications(client, user.token) as laptop, notifications(client, user.token) as phone:
        comment = create_comment(client, other_user, post["id"])
        assert laptop.receive_json()["comment_id"] == comment["id"]
        assert phone.receive_json()["comment_id"] == comment["id"]


def test_commenting_on_your_own_post_sends_nothing(
    client: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    with notifications(client, user.token) as socket:
        create_comment(client, user, post["id"], body="my own")
        by_other = create_comment(client, other_user, post["id"], body="someone else")
        # The first event to arrive is the other user's: the own comment sent none.
        assert socket.receive_json()["comment_id"] == by_other["id"]


def test_only_the_posts_author_hears_it(
    client: TestClient, user: Account, other_user: Account, third_user: Account
) -> None:
    adas_post = create_post(client, user)
    graces_post = create_post(client, other_user)
    with notifications(client, other_user.token) as grace:
        create_comment(client, third_user, adas_post["id"])  # not grace's post
        on_graces = create_comment(client, third_user, graces_post["id"])
        assert grace.receive_json()["comment_id"] == on_graces["id"]


def test_closed_sockets_are_forgotten(
    client: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    with notifications(client, user.token), notifications(client, user.token):
        assert open_sockets() == 2
    assert wait_until_forgotten()
    assert create_comment(client, other_user, post["id"])  # nobody listening: nothing breaks


def test_nothing_is_kept_after_sockets_close(client: TestClient, user: Account) -> None:
    def live_websockets() -> int:
        gc.collect()
        return sum(isinstance(thing, WebSocket) for thing in gc.get_objects())

    before = live_websockets()
    for _ in range(50):
        with notifications(client, user.token):
            pass
    assert wait_until_forgotten()
    assert live_websockets() == before


def test_a_binary_frame_on_notifications_closes_it_with_1003(
    client: TestClient, user: Account
) -> None:
    with notifications(client, user.token) as socket:
        socket.send_bytes(b"?")
        closed_with(socket, 1003)
    assert wait_until_forgotten()


def open_sockets() -> int:
    return sum(len(sockets) for sockets in hub.sockets.values())


def wait_until_forgotten() -> bool:
    for _ in range(100):  # the server notices the close a moment later
        if open_sockets() == 0:
            return True
        time.sleep(0.01)
    return False


class BrokenSocket:
    """A socket that went away without saying so: every send fails."""

    async def send_json(self, data: object) -> None:
        raise RuntimeError('Cannot call "send" once a close message has been sent.')


def test_a_socket_that_fails_on_send_is_forgotten() -> None:
    broken = BrokenSocket()
    hub.add(999, broken)  # type: ignore[arg-type]
    assert open_sockets() == 1
    anyio.run(hub.publish, 999, {"type": "comment.created"})
    assert open_sockets() == 0
