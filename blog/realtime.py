"""WebSockets: an echo endpoint, and the guard every socket of the app reads its frames through.

Lesson: a WebSocket stays open, and either side may send at any time. `/ws/notify` echoes (the
course's first socket): accept, then answer each text frame until the client goes away. Sockets
are guarded like any input: text frames only (1003), at most 64 KiB (1009), at most
`MAX_MESSAGES_PER_SECOND` (1008). Live notifications (`blog/notifications.py`) read through the
same `FrameGuard`.
"""

import time

from fastapi import APIRouter, WebSocket, status

from blog.config import WEBSOCKET_MAX_FRAME_BYTES

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


@router.websocket("/ws/notify")
async def echo(socket: WebSocket) -> None:
    """Answers each text frame with `Echo: <text>`."""
    await socket.accept()
    guard = FrameGuard(socket)
    while (text := await guard.receive_text()) is not None:
        await socket.send_text(f"Echo: {text}")
