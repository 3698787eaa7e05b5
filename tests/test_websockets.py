"""WebSockets: the echo, the guard on every frame (text only, 64 KiB, no floods) and the caps."""

import resource
import time
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from blog.config import settings
from blog.file_handles import MOST_OPEN_SOCKETS, half_the_file_handles
from blog.realtime import MAX_FRAME_BYTES, MAX_MESSAGES_PER_SECOND, open_sockets


def closed_with(socket, code: int) -> None:  # type: ignore[no-untyped-def]
    """The server closes `socket` with `code` (after any echoes it still had to send)."""
    while True:
        message = socket.receive()
        if message["type"] == "websocket.close":
            assert message["code"] == code, message
            return


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


def closed_over_a_cap(client: TestClient, path: str) -> tuple[int, str]:
    """The code and reason of a socket the server accepts and closes at once."""
    with client.websocket_connect(path) as socket:
        message = socket.receive()
    assert message["type"] == "websocket.close", message
    return message["code"], message["reason"]


def wait_until_counted(total: int) -> bool:
    for _ in range(100):  # the server counts a socket a moment after the client opened it
        if open_sockets.total == total:
            return True
        time.sleep(0.01)
    return False


def test_one_address_holds_at_most_its_echo_sockets_then_1013(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "websocket_max_per_client", 3)
    with ExitStack() as held:
        sockets = [held.enter_context(client.websocket_connect("/ws/notify")) for _ in range(3)]
        for socket in sockets:
            socket.send_text("hi")
            assert socket.receive_text() == "Echo: hi"
        assert closed_over_a_cap(client, "/ws/notify") == (1013, "at most 3 sockets at once")
    assert wait_until_counted(0)
    assert open_sockets.per_holder == {}  # nothing kept for an address that has gone
    with client.websocket_connect("/ws/notify") as socket:  # room again
        socket.send_text("again")
        assert socket.receive_text() == "Echo: again"


def test_an_ipv6_network_holds_the_echo_sockets_of_one_address(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Addresses of one /64 are one client (`blog/addresses.py`): a fresh address is no room."""
    monkeypatch.setattr(settings, "websocket_max_per_client", 2)
    one_network = [
        TestClient(client.app, client=(f"2001:db8:1:2::{n}", 40000)) for n in range(1, 4)
    ]
    elsewhere = TestClient(client.app, client=("2001:db8:1:3::1", 40000))
    with ExitStack() as held:
        for socket_client in one_network[:2]:
            held.enter_context(socket_client.websocket_connect("/ws/notify")).send_text("hi")
        assert wait_until_counted(2)
        assert closed_over_a_cap(one_network[2], "/ws/notify") == (
            1013,
            "at most 2 sockets at once",
        )
        with elsewhere.websocket_connect("/ws/notify") as socket:
            socket.send_text("hi")
            assert socket.receive_text() == "Echo: hi"
    assert wait_until_counted(0)


def test_the_process_holds_at_most_its_sockets_then_1013(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "websocket_max_open", 2)
    with ExitStack() as held:
        for _ in range(2):
            held.enter_context(client.websocket_connect("/ws/notify")).send_text("hi")
        assert wait_until_counted(2)
        code, reason = closed_over_a_cap(client, "/ws/notify")
        assert (code, reason) == (1013, "the server holds as many sockets as it can")
    assert wait_until_counted(0)


def test_the_socket_caps_default_to_settings_a_deploy_can_change() -> None:
    assert settings.websocket_max_per_client == 20
    assert 1 <= settings.websocket_max_open <= 500


@pytest.mark.parametrize(
    ("soft_limit", "sockets"),
    [(1024, 500), (200, 100), (1, 1), (resource.RLIM_INFINITY, MOST_OPEN_SOCKETS)],
)
def test_sockets_get_half_the_file_handles_at_most_the_default_cap(
    monkeypatch: pytest.MonkeyPatch, soft_limit: int, sockets: int
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft_limit, resource.RLIM_INFINITY))
    assert half_the_file_handles() == sockets
