"""WebSockets: an echo endpoint, and the guard every socket of the app reads its frames through.

Lesson: a WebSocket stays open, and either side may send at any time. `/ws/notify` echoes (the
course's first socket): accept, then answer each text frame until the client goes away. Sockets
are guarded like any input: text frames only (1003), at most 64 KiB (1009), at most
`MAX_MESSAGES_PER_SECOND` (1008). Each open socket holds a file handle and memory for as long as
the client likes, so they are counted too (`open_sockets`): at most `WEBSOCKET_MAX_OPEN` in this
process and `WEBSOCKET_MAX_PER_CLIENT` echoes per client address; over a cap the socket is
accepted and closed at once with 1013 (try again later) and the reason. The counts are this
process's own: each replica has its caps. Live notifications (`blog/notifications.py`) read
through the same `FrameGuard` and are counted the same way.
"""

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, WebSocket, status

from blog.addresses import address_of
from blog.config import WEBSOCKET_MAX_FRAME_BYTES, settings

router = APIRouter()

MAX_FRAME_BYTES = WEBSOCKET_MAX_FRAME_BYTES
MAX_MESSAGES_PER_SECOND = 20


class FrameGuard:
    """Reads text frames from a socket, closing it on binary, oversized or flooding frames."""

    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.window_start = time.monotonic()
        self.in_window = 0

    async def receive_text(self) -> str | None:
        """The next text frame, or None once the socket is closed (by either side)."""
        message = await self.socket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        if text is None:
            await self.socket.close(status.WS_1003_UNSUPPORTED_DATA, "text frames only")
            return None
        if len(text.encode()) > MAX_FRAME_BYTES:
            await self.socket.close(status.WS_1009_MESSAGE_TOO_BIG, "frames are limited to 64 KiB")
            return None
        if self.too_many():
            await self.socket.close(status.WS_1008_POLICY_VIOLATION, "too many messages")
            return None
        return text

    def too_many(self) -> bool:
        now = time.monotonic()
        if now - self.window_start >= 1:
            self.window_start, self.in_window = now, 0
        self.in_window += 1
        return self.in_window > MAX_MESSAGES_PER_SECOND


class TooManySockets(Exception):
    """A socket over one of the caps; its message is the close reason sent with 1013."""


class OpenSockets:
    """The sockets this process holds: how many in all, and per holder (an address, an account)."""

    def __init__(self) -> None:
        self.total = 0
        self.per_holder: Counter[str] = Counter()

    @contextmanager
    def one_more(self) -> Iterator[None]:
        """Count a socket while inside; TooManySockets if the process holds its cap already."""
        if self.total >= settings.websocket_max_open:
            raise TooManySockets("the server holds as many sockets as it can")
        self.total += 1
        try:
            yield
        finally:
            self.total -= 1

    @contextmanager
    def one_more_for(self, holder: str, most: int) -> Iterator[None]:
        """Count a socket of `holder` while inside; TooManySockets if it holds `most` already."""
        if self.per_holder[holder] >= most:
            raise TooManySockets(f"at most {most} sockets at once")
        self.per_holder[holder] += 1
        try:
            yield
        finally:
            self.per_holder[holder] -= 1
            if not self.per_holder[holder]:
                del self.per_holder[holder]


open_sockets = OpenSockets()


@router.websocket("/ws/notify")
async def echo(socket: WebSocket) -> None:
    """Answers each text frame with `Echo: <text>`; closes with 1013 over a socket cap."""
    await socket.accept()  # accept first: only an open socket can carry a close code
    address = address_of(socket.client.host) if socket.client else "unknown"
    try:
        with (
            open_sockets.one_more(),
            open_sockets.one_more_for(address, settings.websocket_max_per_client),
        ):
            guard = FrameGuard(socket)
            while (text := await guard.receive_text()) is not None:
                await socket.send_text(f"Echo: {text}")
    except TooManySockets as refusal:
        await socket.close(status.WS_1013_TRY_AGAIN_LATER, str(refusal))
