"""Connections: a few per client address, and a deadline for each request's head.

Lesson: uvicorn limits connections only in all (`--limit-concurrency`), so one client that opens
900 connections and sends nothing turns every other client's request into a 503. These are
uvicorn's own protocols with the limits a proxy in front would add (nginx's `limit_conn` and
`client_header_timeout`): past `MOST_CONNECTIONS_PER_ADDRESS` from one address
(`blog/addresses.py`), WebSockets included until they close, a new connection gets a plain 429;
a request head not whole within `REQUEST_HEAD_SECONDS` is closed; a socket that leaves
`MOST_UNREAD_BYTES` unread (the pongs to a flood of pings) is dropped, and so is a connection or
a socket that reads nothing of what the app sends for `UNREAD_SECONDS` once its buffers are
full (lessons 15 and 18). A peer trusted to speak
for others (`--forwarded-allow-ips`: Railway's proxy) is not limited: it limits its clients
itself. Counts are per process; the start command names both classes (`--http`, `--ws`).
"""

import asyncio
import functools
from collections import Counter

import h11
from uvicorn.middleware.proxy_headers import _TrustedHosts  # the rule `--proxy-headers` uses
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from blog.addresses import address_of

MOST_CONNECTIONS_PER_ADDRESS = 50
REQUEST_HEAD_SECONDS = 10.0
MOST_UNREAD_BYTES = 256 * 1024  # four of the largest frames a socket may send
UNREAD_SECONDS = 10.0  # step 15
TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 38\r\nconnection: close\r\n\r\n"
    b"Too many connections from one address."
)

open_connections: Counter[str] = Counter()  # per client address, in this process


def count_out(address: str | None) -> None:
    if address is not None:
        open_connections[address] -= 1
        if open_connections[address] == 0:
            del open_connections[address]


@functools.cache
def trusted_proxies(allowed: str) -> _TrustedHosts:
    return _TrustedHosts(allowed)


def drop_unless_read(  # step 15
    loop: asyncio.AbstractEventLoop,  # step 15
    transport: asyncio.Transport,  # step 15
) -> asyncio.TimerHandle:  # step 15
    """Every answer to a client that reads nothing waits: past the deadline, it is dropped."""
    return loop.call_later(UNREAD_SECONDS, transport.abort)  # step 15


def stop(deadline: asyncio.TimerHandle | None) -> None:  # step 15
    if deadline is not None:  # step 15
        deadline.cancel()  # step 15


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a limit per client address and a deadline for heads."""

    counted_as: str | None = None
    head_deadline: asyncio.TimerHandle | None = None
    unread_deadline: asyncio.TimerHandle | None = None  # step 15

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.wait_for_a_head()
        if self.client is None or self.speaks_for_others(self.client[0]):
            return
        address = address_of(self.client[0])
        if open_connections[address] >= MOST_CONNECTIONS_PER_ADDRESS:
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        open_connections[address] += 1
        self.counted_as = address

    def speaks_for_others(self, host: str) -> bool:
        allowed = self.config.forwarded_allow_ips
        allowed = allowed if isinstance(allowed, str) else ",".join(allowed)
        return self.config.proxy_headers and host in trusted_proxies(allowed)

    def wait_for_a_head(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
        self.head_deadline = self.loop.call_later(REQUEST_HEAD_SECONDS, self.close_if_no_head)

    def close_if_no_head(self) -> None:
        if self.conn.their_state is h11.IDLE:
            self.timeout_keep_alive_handler()  # closes the connection as an idle keep-alive

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE and self.head_deadline is not None:
            self.head_deadline.cancel()  # the whole head is here

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.wait_for_a_head()  # the next request on this keep-alive connection

    def pause_writing(self) -> None:  # step 15
        super().pause_writing()  # step 15
        self.unread_deadline = drop_unless_read(self.loop, self.transport)  # step 15

    def resume_writing(self) -> None:  # step 15
        super().resume_writing()  # step 15
        stop(self.unread_deadline)  # step 15

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        counted_as, self.counted_as = self.counted_as, None  # the socket's from here
        self.stop_counting()
        super().handle_websocket_upgrade(event)
        socket = self.transport.get_protocol()
        if isinstance(socket, LimitedWebSocketProtocol):
            socket.counted_as = counted_as
        else:
            count_out(counted_as)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_counting()
        super().connection_lost(exc)

    def stop_counting(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
        count_out(self.counted_as)
        self.counted_as = None


class LimitedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, counted against its address until it closes, and dropped
    when its client leaves more than `MOST_UNREAD_BYTES` unread."""

    counted_as: str | None = None
    unread_deadline: asyncio.TimerHandle | None = None  # step 18

    def handle_ping(self) -> None:
        super().handle_ping()
        if self.transport.get_write_buffer_size() > MOST_UNREAD_BYTES:
            self.transport.abort()  # closing would wait for a client that does not read

    def pause_writing(self) -> None:  # step 18
        super().pause_writing()  # step 18
        self.unread_deadline = drop_unless_read(self.loop, self.transport)  # step 18

    def resume_writing(self) -> None:  # step 18
        super().resume_writing()  # step 18
        stop(self.unread_deadline)  # step 18

    def connection_lost(self, exc: Exception | None) -> None:
        count_out(self.counted_as)
        self.counted_as = None
        super().connection_lost(exc)
