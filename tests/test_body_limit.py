"""Request bodies over MAX_BODY_BYTES: refused with 413 before anything else runs, whether they
announce their size or arrive in chunks, and without the server holding them in memory; and a
request's line and headers over MAX_REQUEST_HEAD_BYTES, refused by the server itself (h11)."""

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message
from uvicorn.protocols.http.h11_impl import H11Protocol

from blog.body_limit import BodySizeLimit
from blog.config import MAX_CONNECTIONS, MAX_REQUEST_HEAD_BYTES, settings
from blog.connections import LimitedH11Protocol
from blog.file_handles import MOST_OPEN_SOCKETS
from blog.posts.models import MAX_BODY_LENGTH, MAX_TITLE_LENGTH
from tests.helpers import Account, assert_error
from tests.servers import (
    free_port,
    memory_kib,
    serving_the_start_command,
    start_command,
)

LIMIT = settings.max_body_bytes
MiB = 1024 * 1024


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """`total` bytes of "x" in pieces: a body sent without `Content-Length` (chunked)."""
    return pieces(b"x" * total, size)


def pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def json_from(user: Account) -> dict[str, str]:
    return {**user.headers, "Content-Type": "application/json"}


def test_an_announced_body_over_the_limit_is_a_413_before_authentication(
    client: TestClient,
) -> None:
    response = client.post("/posts", content=b"x" * (LIMIT + 1))  # no token: would be a 401
    assert_error(response, 413, "payload_too_large")
    assert response.headers["Connection"] == "close"


def test_a_route_that_reads_no_body_does_not_run_either(client: TestClient, user: Account) -> None:
    post = client.post("/posts", headers=user.headers, json={"title": "t", "body": "b"}).json()
    response = client.request(
        "DELETE", f"/posts/{post['id']}", headers=user.headers, content=b"x" * (LIMIT + 1)
    )
    assert_error(response, 413, "payload_too_large")
    assert client.get(f"/posts/{post['id']}").status_code == 200  # nothing was deleted


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    response = client.post("/posts", content=chunks(LIMIT + 1))
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_reaches_the_app(
    client: TestClient, user: Account, announced: bool
) -> None:
    body = b'{"title": "t", "body": "' + b"x" * (LIMIT - 26) + b'"}'
    assert len(body) == LIMIT
    content = body if announced else pieces(body, 1000)
    response = client.post("/posts", content=content, headers=json_from(user))
    assert_error(response, 422, "validation_error")  # read and validated: the body is too long
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "body"]


def test_a_chunked_body_under_the_limit_is_handed_over_whole(
    client: TestClient, user: Account
) -> None:
    body = b'{"title": "in pieces", "body": "arrived in many chunks"}'
    response = client.post("/posts", content=pieces(body, 7), headers=json_from(user))
    assert response.status_code == 201, response.text
    assert response.json()["body"] == "arrived in many chunks"


def test_a_client_that_leaves_mid_body_gets_nothing_and_the_app_never_runs() -> None:
    called = False

    async def app(scope: object, receive: object, send: object) -> None:
        nonlocal called
        called = True

    messages: list[Message] = [
        {"type": "http.request", "body": b"x" * 10, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"transfer-encoding", b"chunked")]}
    anyio.run(BodySizeLimit(app, max_bytes=100), scope, receive, send)
    assert not called
    assert sent == []


def test_a_chunked_body_is_counted_even_beside_a_small_content_length() -> None:
    called = False

    async def app(scope: object, receive: object, send: object) -> None:
        nonlocal called
        called = True  # pragma: no cover (the bug: the announced 10 bytes were believed)

    messages: list[Message] = [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 2
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    both = [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]
    anyio.run(BodySizeLimit(app, max_bytes=100), {"type": "http", "headers": both}, receive, send)
    assert not called
    assert sent[0]["status"] == 413


# --- a real server, a 100 MB body ---------------------------------------------------------------


def send_huge_body(port: int, chunked: bool, total: int = 100 * MiB, beside: str = "") -> bytes:
    """Stream `total` bytes at POST /posts until the server answers; return its status line.
    `beside` is a header line sent too (a `Content-Length` that lies about a chunked body)."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    framing += f"\r\n{beside}" if beside else ""
    head = "POST /posts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    piece = b"x" * (64 * 1024)
    framed = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    return stream_until_answered(port, f"{head}{framing}\r\n\r\n".encode(), framed, total)


def at_once(send: Callable[[], bytes], times: int) -> list[bytes]:
    """`send` from `times` threads at once; what each got back."""
    answers: list[bytes] = []
    senders = [threading.Thread(target=lambda: answers.append(send())) for _ in range(times)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    return answers


def stream_until_answered(port: int, start: bytes, piece: bytes, total: int) -> bytes:
    """Send `start`, then `piece` until `total` bytes or an answer; return its status line."""
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:

        def read_answer() -> None:
            try:
                while b"\r\n" not in answer and (data := connection.recv(4096)):
                    answer.extend(data)
            except OSError:
                pass

        reader = threading.Thread(target=read_answer)
        reader.start()
        connection.sendall(start)
        try:
            for _ in range(total // len(piece)):
                if answer:
                    break
                connection.sendall(piece)
        except OSError:
            pass  # the server answered and closed the connection: what we want
        reader.join(timeout=30)
    return bytes(answer).split(b"\r\n")[0]


@pytest.mark.slow  # starts a server or a Python process
def test_a_100_mb_body_leaves_the_servers_memory_flat(tmp_path: Path) -> None:
    with serving_the_start_command(tmp_path) as (port, server):
        idle = memory_kib(server.pid, "VmRSS")
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # restart the high-water mark

        answers = [send_huge_body(port, chunked=False), send_huge_body(port, chunked=True)]
        answers.append(send_huge_body(port, chunked=True, beside="Content-Length: 10"))
        with_six_at_once = at_once(lambda: send_huge_body(port, chunked=True), 6)
        peak = memory_kib(server.pid, "VmHWM")
    print(f"\nserver memory: idle {idle / 1024:.1f} MiB, peak with bodies {peak / 1024:.1f} MiB")
    assert answers + with_six_at_once == [b"HTTP/1.1 413 Request Entity Too Large"] * 9
    assert peak - idle < 20 * 1024


# --- the request's head: bounded by the server the start command names ------------------------


def test_the_start_command_bounds_the_request_head_and_the_connections() -> None:
    words = start_command(sys.executable, free_port())
    # httptools reads a head of any size; h11 stops at a limit (and blog/connections.py adds a
    # limit per client address and a deadline for the head)
    assert words[words.index("--http") + 1] == "blog.connections:LimitedH11Protocol"
    assert issubclass(LimitedH11Protocol, H11Protocol)
    assert words[words.index("--ws") + 1] == "blog.connections:LimitedWebSocketProtocol"
    head_limit = words[words.index("--h11-max-incomplete-event-size") + 1]
    assert head_limit == str(MAX_REQUEST_HEAD_BYTES)
    assert words[words.index("--limit-concurrency") + 1] == str(MAX_CONNECTIONS)
    assert MOST_OPEN_SOCKETS < MAX_CONNECTIONS  # the sockets leave connections for requests


def send_head(port: int, head: bytes) -> bytes:
    """Send a whole request head; return the status line of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head)
        return connection.recv(4096).split(b"\r\n")[0]


@pytest.mark.slow  # starts a server or a Python process
def test_a_huge_or_endless_request_head_is_refused_by_the_server_in_bounded_memory(
    tmp_path: Path,
) -> None:
    with serving_the_start_command(tmp_path) as (port, server):
        request_line = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        token_sized = request_line + b"Authorization: Bearer " + b"t" * 4096 + b"\r\n\r\n"
        assert send_head(port, token_sized) == b"HTTP/1.1 200 OK"
        refused = b"HTTP/1.1 400 Bad Request"  # h11's own answer, plain text
        assert send_head(port, request_line + b"X-Big: " + b"a" * MiB + b"\r\n\r\n") == refused
        assert send_head(port, request_line + b"X-A: 1\r\n" * 50_000 + b"\r\n") == refused

        idle = memory_kib(server.pid)
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # restart the high-water mark
        unfinished = request_line + b"X-Big: "
        answers = at_once(
            lambda: stream_until_answered(port, unfinished, b"a" * 65536, 20 * MiB), 10
        )
        peak = memory_kib(server.pid, "VmHWM")
    print(f"\nserver memory: idle {idle / 1024:.1f} MiB, peak with heads {peak / 1024:.1f} MiB")
    assert answers == [refused] * 10  # each answered before it had sent its 20 MB
    assert peak - idle < 50 * 1024


def test_the_largest_valid_post_fits_under_the_limit_however_it_is_escaped(
    client: TestClient, user: Account
) -> None:
    """JSON may escape every character (Python's `json.dumps` does, for non-ASCII): a post at
    its limits in astral characters, each a `\\ud83d\\ude00` pair, is the largest valid body."""
    post = {"title": "😀" * MAX_TITLE_LENGTH, "body": "😀" * MAX_BODY_LENGTH}
    body = json.dumps(post).encode()  # ensure_ascii: 12 bytes a character
    assert len(body) <= LIMIT
    response = client.post("/posts", content=body, headers=json_from(user))
    assert response.status_code == 201, response.text
