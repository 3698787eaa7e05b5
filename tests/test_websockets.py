"""WebSockets: the echo, and the guard on every frame (text only, 64 KiB, no floods)."""

import time

import pytest
from fastapi.testclient import TestClient

from blog.realtime import MAX_FRAME_BYTES, MAX_MESSAGES_PER_SECOND


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
