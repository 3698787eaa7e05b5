"""The server's own limits (`blog/connections.py`): a few connections per client address, and a
deadline for each request's head. A real uvicorn server runs the protocol in a thread, in front
of an app that answers 200 and keeps WebSockets open, with smaller limits so the tests are quick.
Every connection below comes from a loopback address of its own: 127.0.0.1 is the client that
opens too many, 127.0.0.3 another client, and 127.0.0.2 a proxy the server trusts.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import uvicorn
from websockets.sync.client import connect as websocket

from blog import connections
from blog.connections import LimitedH11Protocol, LimitedWebSocketProtocol
from tests.servers import free_port

LIMIT = 5
ATTACKER, OTHER_CLIENT, PROXY = "127.0.0.1", "127.0.0.3", "127.0.0.2"
GET = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"


async def answer_or_keep_open(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        if scope["path"] == "/talks":  # sends until the socket is gone, whether read or not
            while True:
                await send({"type": "websocket.send", "bytes": b"x" * 65536})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["path"] == "/big":  # 64 MiB, for a client that reads none of it
        for _ in range(1024):
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def serving() -> Iterator[int]:
    """The port of a uvicorn server running `answer_or_keep_open` with the limited protocols."""
    port = free_port()
    config = uvicorn.Config(
        answer_or_keep_open,
        host="127.0.0.1",
        port=port,
        http=LimitedH11Protocol,
        ws=LimitedWebSocketProtocol,
        proxy_headers=True,
        forwarded_allow_ips=PROXY,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join()
    assert connections.open_connections == {}  # every connection was counted out again


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(connections, "MOST_CONNECTIONS_PER_ADDRESS", LIMIT)
    monkeypatch.setattr(connections, "REQUEST_HEAD_SECONDS", 0.5)
    with serving() as port:
        yield port


def connection_from(source: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))


def first_line(connection: socket.socket, head: bytes = GET) -> bytes:
    connection.sendall(head)
    return connection.recv(4096).split(b"\r\n")[0]


@contextmanager
def idle_connections(source: str, port: int, count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        opened = [stack.enter_context(connection_from(source, port)) for _ in range(count)]
        yield opened


def counted(address: str, expected: int) -> bool:
    """Whether the server counts `expected` connections from `address`, within a second."""
    deadline = time.monotonic() + 1
    while connections.open_connections.get(address, 0) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def dropped_unread(request: bytes, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Send `request` from another client and read nothing of the answer: whether the server
    drops the connection once its buffers have been full for `UNREAD_SECONDS` (here 0.5 s)."""
    monkeypatch.setattr(connections, "UNREAD_SECONDS", 0.5)
    with serving() as port, connection_from(OTHER_CLIENT, port) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # read nothing, hold little
        raw.sendall(request)
        assert counted(OTHER_CLIENT, 1)
        time.sleep(1)  # the buffers fill at once; half a second later it is dropped
        return counted(OTHER_CLIENT, 0)


def test_one_address_cannot_hold_every_connection(port: int) -> None:
    with idle_connections(ATTACKER, port, LIMIT) as idle:
        assert counted(ATTACKER, LIMIT)
        with connection_from(ATTACKER, port) as one_more:
            answer = one_more.recv(4096)
        assert answer.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
        assert answer.endswith(b"\r\n\r\nToo many connections from one address.")
        with connection_from(OTHER_CLIENT, port) as other:
            assert first_line(other) == b"HTTP/1.1 200 OK"

        idle.pop().close()
        assert counted(ATTACKER, LIMIT - 1)
        with connection_from(ATTACKER, port) as again:
            assert first_line(again) == b"HTTP/1.1 200 OK"


def test_a_proxy_the_server_trusts_is_not_limited(port: int) -> None:
    with idle_connections(PROXY, port, LIMIT + 1), connection_from(PROXY, port) as one_more:
        assert first_line(one_more) == b"HTTP/1.1 200 OK"
    assert PROXY not in connections.open_connections


def test_a_connection_without_a_whole_head_in_time_is_closed(port: int) -> None:
    with connection_from(OTHER_CLIENT, port) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: te")
        assert slow.recv(4096) == b""  # closed by the server, without an answer
    with connection_from(OTHER_CLIENT, port) as silent:
        assert silent.recv(4096) == b""


def test_each_request_on_a_kept_alive_connection_gets_the_deadline(port: int) -> None:
    with connection_from(OTHER_CLIENT, port) as kept_alive:
        assert first_line(kept_alive) == b"HTTP/1.1 200 OK"
        time.sleep(0.3)  # less than the deadline: the next request is still welcome
        assert first_line(kept_alive) == b"HTTP/1.1 200 OK"
        kept_alive.sendall(b"GET / HTTP/1.1\r\n")
        assert kept_alive.recv(4096) == b""


def test_a_websocket_counts_against_its_address_until_it_closes(port: int) -> None:
    with ExitStack() as stack:
        for _ in range(LIMIT):
            stack.enter_context(websocket(f"ws://127.0.0.1:{port}/"))
        assert counted(ATTACKER, LIMIT)
        with connection_from(ATTACKER, port) as one_more:
            assert first_line(one_more) == b"HTTP/1.1 429 Too Many Requests"
    assert counted(ATTACKER, 0)
    with connection_from(ATTACKER, port) as plain:
        assert first_line(plain) == b"HTTP/1.1 200 OK"


UPGRADE = (
    b"Host: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
PING = bytes([0x89, 0x80 | 125]) + b"\0\0\0\0" + b"p" * 125  # masked with zeros: unchanged


def test_a_socket_that_never_reads_its_pongs_is_dropped(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "MOST_UNREAD_BYTES", 64 * 1024)
    with connection_from(OTHER_CLIENT, port) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # read nothing, hold little
        raw.sendall(b"GET / HTTP/1.1\r\n" + UPGRADE)
        sent = 0
        with pytest.raises(OSError):  # reset by the server, long before 100 MB of pings
            while sent < 100 * 2**20:
                raw.sendall(PING * 100)
                sent += len(PING) * 100
    assert counted(OTHER_CLIENT, 0)
