"""Live notifications: `/ws/notifications` pushes `comment.created` to a post's author."""

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import jwt
import pytest
from fastapi import WebSocket, WebSocketDisconnect
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.websockets import WebSocketState
from websockets.sync.client import connect as websocket

from blog import capacity, database, realtime
from blog import hub as hub_module
from blog import notifications as notifications_module
from blog.config import settings
from blog.hub import hub
from blog.main import app
from blog.users.models import User
from tests.helpers import (
    Account,
    create_comment,
    create_post,
    register,
)
from tests.servers import serving_the_start_command
from tests.test_capacity import assert_busy
from tests.test_connections import UPGRADE, dropped_unread
from tests.test_websockets import closed_over_a_cap, closed_with, wait_until_counted

# --- /ws/notify ---------------------------------------------------------------------------------


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


def test_an_account_holds_at_most_its_notification_sockets_then_1013(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "websocket_max_per_account", 2)
    other = register(client, "grace")
    with notifications(client, user.token), notifications(client, user.token):
        url = f"/ws/notifications?token={user.token}"
        assert closed_over_a_cap(client, url) == (1013, "at most 2 sockets at once")
        with notifications(client, other.token):  # another account has its own cap
            pass
    assert wait_until_forgotten()
    with notifications(client, user.token):  # room again once they closed
        pass


def test_notification_sockets_count_toward_the_process_cap(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "websocket_max_open", 1)
    with notifications(client, user.token):
        url = f"/ws/notifications?token={user.token}"
        code, reason = closed_over_a_cap(client, url)
        assert (code, reason) == (1013, "the server holds as many sockets as it can")
        assert closed_over_a_cap(client, "/ws/notify")[0] == 1013  # the echo shares it
    assert wait_until_counted(0)
    assert realtime.open_sockets.per_holder == {}


def test_the_account_cap_is_taken_before_any_database_work(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of one account's handshakes is refused by its own cap, from the token alone,
    before any of them waits for a session (and so before any takes a place of the process)."""
    seen: list[dict[str, int]] = []
    check = notifications_module.signed_in_user_id

    async def looking(engine: Engine, token: str | None) -> int | None:
        seen.append(dict(realtime.open_sockets.per_holder))
        return await check(engine, token)

    monkeypatch.setattr(notifications_module, "signed_in_user_id", looking)
    with notifications(client, user.token):
        pass
    assert seen[0] == {f"account {user.id}": 1}
    url = "/ws/notifications?token=x.y.z"
    with client.websocket_connect(url) as socket, pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json()
    assert closed.value.code == 1008
    assert len(seen) == 2  # the bad token never reached the database


def test_an_open_socket_closes_once_its_token_ends_even_unannounced(
    client: TestClient, user: Account, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Redis, a deactivation by another process is news to nobody here: the socket
    finds out when it checks its token again (every TOKEN_RECHECK_SECONDS)."""
    monkeypatch.setattr(notifications_module, "TOKEN_RECHECK_SECONDS", 0.05)
    with notifications(client, user.token) as socket:
        stored = session.get(User, user.id)
        assert stored is not None
        stored.is_active = False  # as the operator's command does, minus telling the hub
        session.add(stored)
        session.commit()
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "signed out")


def test_a_socket_whose_token_holds_stays_open_through_its_checks(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications_module, "TOKEN_RECHECK_SECONDS", 0.01)
    with notifications(client, user.token) as socket:
        time.sleep(0.1)  # several checks
        socket.send_text("still here")
        assert open_sockets() == 1


def test_the_account_cap_defaults_to_five() -> None:
    assert settings.websocket_max_per_account == 5


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


class UnreadSocket:
    """A socket whose client reads nothing: its buffers are full, so a send never returns."""

    async def send_json(self, data: object) -> None:
        await anyio.sleep_forever()

    async def close(self, code: int, reason: str) -> None:
        await anyio.sleep_forever()


class ListeningSocket:
    def __init__(self) -> None:
        self.heard: list[object] = []

    async def send_json(self, data: object) -> None:
        self.heard.append(data)


def test_a_socket_whose_client_reads_nothing_holds_no_one_up_and_is_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "SEND_SECONDS", 0.05)
    unread, listening = UnreadSocket(), ListeningSocket()
    hub.add(998, unread)  # type: ignore[arg-type]
    hub.add(999, listening)  # type: ignore[arg-type]
    event = {"type": "comment.created"}
    anyio.run(hub.receive, {"user_id": 998, "event": event})  # returns: not stuck behind it
    anyio.run(hub.receive, {"user_id": 999, "event": event})
    assert listening.heard == [event]
    assert 998 not in hub.sockets  # its next event is not waited for either
    hub.add(998, unread)  # type: ignore[arg-type]
    anyio.run(hub.sign_out, 998)  # a close it never reads ends too
    assert 998 not in hub.sockets
    hub.remove(999, listening)  # type: ignore[arg-type]


def test_a_socket_that_reads_nothing_of_what_the_app_sends_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # /talks sends until the socket is gone
    assert dropped_unread(b"GET /talks HTTP/1.1\r\n" + UPGRADE, monkeypatch)


class GoneAfterTheHandshake:
    """A client that resets its socket as soon as the server has accepted it."""

    application_state = WebSocketState.CONNECTED

    async def accept(self) -> None:
        pass

    async def send_json(self, data: object) -> None:
        raise WebSocketDisconnect(code=1006)


def test_a_client_gone_before_ready_ends_its_socket_without_an_error(
    engine: Engine, client: TestClient
) -> None:
    ada = register(client, "ada")
    gone = GoneAfterTheHandshake()
    anyio.run(notifications_module.notifications, gone, engine, ada.token)  # type: ignore[arg-type]
    assert open_sockets() == 0


@pytest.mark.slow  # starts a server
def test_the_start_command_compresses_no_websocket_frames(tmp_path: Path) -> None:
    with (
        serving_the_start_command(tmp_path) as (port, _),
        websocket(f"ws://127.0.0.1:{port}/ws/notify") as echo,  # offers permessage-deflate
    ):
        assert echo.response is not None
        assert echo.response.headers.get("Sec-WebSocket-Extensions") is None


def test_while_every_session_is_taken_a_request_answers_503_and_health_still_answers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "engine", engine)  # the app's own sessions, slots and all
    with TestClient(app) as own_sessions:
        ada = register(own_sessions, "ada")
        post = create_post(own_sessions, ada)
        monkeypatch.setattr(capacity, "session_slots", anyio.Semaphore(0))
        monkeypatch.setattr(settings, "database_pool_timeout", 0.01)
        assert_busy(own_sessions.get("/posts"))
        edit = own_sessions.patch(f"/posts/{post['id']}", headers=ada.headers, json={"title": "x"})
        assert_busy(edit)
        assert own_sessions.get("/health").json() == {"ok": True, "database": "ok"}
        url = f"/ws/notifications?token={ada.token}"
        with (
            own_sessions.websocket_connect(url) as socket,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            socket.receive_json()
        assert closed.value.code == 1013  # try again later
        monkeypatch.setattr(capacity, "session_slots", anyio.Semaphore(1))
        assert own_sessions.get(f"/posts/{post['id']}").json()["title"] == post["title"]
