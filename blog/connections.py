"""Connections: a few per client address, and a deadline for each request's head.

Lesson: uvicorn limits connections only in all (`--limit-concurrency`), so one client that opens
900 connections and sends nothing turns every other client's request into a 503. This is
uvicorn's own h11 protocol with the two limits a proxy in front would add (nginx's `limit_conn`
and `client_header_timeout`): a new connection from an address that already holds
`MOST_CONNECTIONS_PER_ADDRESS` (an IPv6 client counts by its /64, which one machine usually
holds) is answered with a plain 429 and closed, and a connection that has not sent a whole
request head within `REQUEST_HEAD_SECONDS` is closed. A peer the start command trusts to speak
for others (`--forwarded-allow-ips`: Railway's proxy, or a proxy on the same machine) is not
limited, since it carries many clients and limits them itself. Counts are per process. The start
command names this class: `--http blog.connections:LimitedH11Protocol`.
"""

import asyncio
import functools
import ipaddress
from collections import Counter

import h11
from uvicorn.middleware.proxy_headers import _TrustedHosts  # the rule `--proxy-headers` uses
from uvicorn.protocols.http.h11_impl import H11Protocol

MOST_CONNECTIONS_PER_ADDRESS = 50
REQUEST_HEAD_SECONDS = 10.0
TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 429 Too Many Requests\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 38\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"Too many connections from one address."
)

open_connections: Counter[str] = Counter()  # per client address, in this process


def address_of(host: str) -> str:
    """The address a client is counted by: its IPv4 address, or its IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an IP address (a Unix socket's path)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)  # an IPv4 client on a dual-stack socket
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@functools.cache
def trusted_proxies(allowed: str) -> _TrustedHosts:
    return _TrustedHosts(allowed)


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a limit per client address and a deadline for heads."""

    counted_as: str | None = None
    head_deadline: asyncio.TimerHandle | None = None

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

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self.stop_counting()  # from here the socket caps count it (blog/realtime.py)
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_counting()
        super().connection_lost(exc)

    def stop_counting(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
        if self.counted_as is not None:
            open_connections[self.counted_as] -= 1
            if open_connections[self.counted_as] == 0:
                del open_connections[self.counted_as]
            self.counted_as = None
