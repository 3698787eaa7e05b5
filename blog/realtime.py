"""WebSockets: an echo endpoint, and live notifications pushed to a signed-in user.

Lesson: a WebSocket stays open, so the server pushes when something happens. `/ws/notify` echoes
(the course's first socket). `/ws/notifications?token=<JWT>` authenticates once, says `{"type":
"ready"}`, then pushes JSON events: `comment.created` when someone else comments on one of your
posts. When an account's tokens end (logout, password change, deleted account) its sockets close
with 1008. Which sockets are open, and how an event reaches them on every process, is the hub's
business (`blog/hub.py`). The token is checked in a session that ends with the check: a socket
may stay open for hours, and must hold no database connection meanwhile; while every session is
taken, the socket closes with 1013 (try again later).

Sockets are guarded like any input: text frames only (1003), at most 64 KiB (1009), at most
`MAX_MESSAGES_PER_SECOND` (1008).
"""

import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, WebSocket, status
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.websockets import WebSocketState

from blog import database
from blog.capacity import a_slot_of
from blog.config import WEBSOCKET_MAX_FRAME_BYTES, settings
from blog.database import get_engine
from blog.deps import get_current_user
from blog.errors import DomainError, ServerBusy
from blog.hub import hub

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


async def close_unless_closed(socket: WebSocket, code: int, reason: str) -> None:
    """Close `socket`, unless this app has closed it already: a second close is an error."""
    if socket.application_state != WebSocketState.DISCONNECTED:
        await socket.close(code, reason)


@router.websocket("/ws/notify")
async def echo(socket: WebSocket) -> None:
    """Answers each text frame with `Echo: <text>`."""
    await socket.accept()
    guard = FrameGuard(socket)
    while (text := await guard.receive_text()) is not None:
        await socket.send_text(f"Echo: {text}")


def active_user_id(engine: Engine, token: str | None) -> int | None:
    with Session(engine) as session:
        try:
            return get_current_user(session, token).id
        except DomainError:  # no token, or not a valid one
            return None


async def signed_in_user_id(engine: Engine, token: str | None) -> int | None:
    """Whose valid token this is (None: nobody's), checked in a session of its own."""
    async with a_slot_of(database.session_slots, settings.database_pool_timeout):
        return await anyio.to_thread.run_sync(active_user_id, engine, token)


@router.websocket("/ws/notifications")
async def notifications(
    socket: WebSocket, engine: Annotated[Engine, Depends(get_engine)], token: str | None = None
) -> None:
    """Pushes your notifications as JSON; closes with 1008 without a valid token."""
    await socket.accept()  # accept first: only an open socket can carry a close code
    try:
        await push_notifications(socket, engine, token)
    except ServerBusy:
        await close_unless_closed(socket, status.WS_1013_TRY_AGAIN_LATER, "server busy")


async def push_notifications(socket: WebSocket, engine: Engine, token: str | None) -> None:
    user_id = await signed_in_user_id(engine, token)
    if user_id is None:
        await socket.close(status.WS_1008_POLICY_VIOLATION, "a valid token is required")
        return
    hub.add(user_id, socket)
    try:
        # A logout between the check above and `hub.add` closed the account's sockets without
        # this one; now that it hears every later one, check the token once more.
        if await signed_in_user_id(engine, token) is None:
            # That logout may have closed this socket too while we looked (`hub.sign_out`).
            await close_unless_closed(socket, status.WS_1008_POLICY_VIOLATION, "signed out")
            return
        # Tells the client that from now on it will hear every event (nothing was missed since).
        await socket.send_json({"type": "ready", "user_id": user_id})
        guard = FrameGuard(socket)
        while await guard.receive_text() is not None:
            pass  # nothing to say to the server yet; reading notices the socket closing
    finally:
        hub.remove(user_id, socket)
