"""WebSockets: an echo endpoint, and live notifications that reach a user on every process.

Lesson: a WebSocket stays open, so the server pushes when something happens. `/ws/notify` echoes
(the course's first socket). `/ws/notifications?token=<JWT>` authenticates once, says `{"type":
"ready"}`, then pushes JSON events: `comment.created` when someone else comments on one of your
posts. When an account's tokens end (logout, password change, deleted account) its sockets close
with 1008. The `NotificationHub` keeps each process's open sockets per user. With one process,
publishing delivers to them directly. With several (uvicorn `--workers`, Railway replicas) the
commenter's request may land on a process that does not hold the author's socket, so with
`REDIS_URL` set every event goes through a Redis pub/sub channel that every process listens to, and
each delivers to the sockets it holds.

Sockets are guarded like any input: text frames only (1003), at most 64 KiB (1009), at most
`MAX_MESSAGES_PER_SECOND` (1008). A socket that fails or closes is forgotten.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from sqlmodel import Session
from starlette.websockets import WebSocketState

from blog.config import WEBSOCKET_MAX_FRAME_BYTES, settings
from blog.deps import SessionDep, user_for_token

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)
router = APIRouter()

CHANNEL = "blog:notifications"
MAX_FRAME_BYTES = WEBSOCKET_MAX_FRAME_BYTES
MAX_MESSAGES_PER_SECOND = 20


class NotificationHub:
    """The sockets this process holds, per user, and the way events reach them."""

    def __init__(self) -> None:
        self._sockets: defaultdict[int, set[WebSocket]] = defaultdict(set)
        self._redis: Redis | None = None
        # What a failing Redis raises; the redis package is imported only with REDIS_URL
        # (it costs the process 5 MiB of memory that an app without Redis would carry).
        self._redis_errors: tuple[type[Exception], ...] = (OSError,)
        self._listener: asyncio.Task[None] | None = None

    def socket_count(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    def add(self, user_id: int, socket: WebSocket) -> None:
        self._sockets[user_id].add(socket)

    def remove(self, user_id: int, socket: WebSocket) -> None:
        sockets = self._sockets.get(user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[user_id]

    async def publish(self, user_id: int, event: dict[str, Any]) -> None:
        """Send `event` to every socket of `user_id`, in this process or (Redis) any other."""
        await self._broadcast({"user_id": user_id, "event": event})

    async def sign_out(self, user_id: int) -> None:
        """Close every socket of `user_id` (1008), in this process or any other: their tokens
        have ended (logout, password change, deleted account)."""
        await self._broadcast({"user_id": user_id, "sign_out": True})

    async def _broadcast(self, message: dict[str, Any]) -> None:
        if self._redis is None:
            await self._handle(message)
            return
        try:
            await self._redis.publish(CHANNEL, json.dumps(message))
        except self._redis_errors as error:
            logger.warning("redis publish failed, delivering in this process only: %r", error)
            await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        if message.get("sign_out"):
            await self.close_sockets(message["user_id"])
        else:
            await self.deliver(message["user_id"], message["event"])

    async def deliver(self, user_id: int, event: dict[str, Any]) -> None:
        for socket in list(self._sockets.get(user_id, ())):
            try:
                await socket.send_json(event)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.remove(user_id, socket)  # it went away between our look and our send

    async def close_sockets(self, user_id: int) -> None:
        for socket in list(self._sockets.get(user_id, ())):
            self.remove(user_id, socket)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await socket.close(status.WS_1008_POLICY_VIOLATION, "signed out")

    async def start(self, redis_url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(redis_url)
        self._redis_errors = (redis.RedisError, OSError)
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready))
        await ready.wait()  # subscribed (or failed once) before the app takes requests

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _listen(self, ready: asyncio.Event) -> None:
        """Deliver what any process publishes; reconnect (once a second) if Redis goes away."""
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    ready.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            await self._handle(json.loads(message["data"]))
            except self._redis_errors as error:
                ready.set()
                logger.warning("redis subscription lost, retrying in 1 s: %r", error)
                await asyncio.sleep(1)


hub = NotificationHub()


@asynccontextmanager
async def notifications_across_processes() -> AsyncIterator[None]:
    """With `REDIS_URL`, the hub listens to Redis while the app runs (the app's lifespan enters
    this); only the lifespan that started the listener stops it."""
    if not settings.redis_url:
        yield
        return
    await hub.start(settings.redis_url)
    try:
        yield
    finally:
        await hub.stop()


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


def active_user_id(session: Session, token: str | None) -> int | None:
    try:
        user = user_for_token(session, token) if token else None
        return user.id if user is not None else None
    finally:
        # A socket may stay open for hours; its database connection goes back to the pool now.
        session.close()


@router.websocket("/ws/notifications")
async def notifications(socket: WebSocket, session: SessionDep, token: str | None = None) -> None:
    """Pushes your notifications as JSON; closes with 1008 without a valid token."""
    user_id = await anyio.to_thread.run_sync(active_user_id, session, token)
    await socket.accept()  # accept first: only an open socket can carry the 1008 close code
    if user_id is None:
        await socket.close(status.WS_1008_POLICY_VIOLATION, "a valid token is required")
        return
    hub.add(user_id, socket)
    try:
        # A logout between the check above and `hub.add` closed the account's sockets without
        # this one; now that it hears every later one, check the token once more.
        if await anyio.to_thread.run_sync(active_user_id, session, token) is None:
            # That logout may have closed this socket too while we looked (`hub.close_sockets`).
            await close_unless_closed(socket, status.WS_1008_POLICY_VIOLATION, "signed out")
            return
        # Tells the client that from now on it will hear every event (nothing was missed since).
        await socket.send_json({"type": "ready", "user_id": user_id})
        guard = FrameGuard(socket)
        while await guard.receive_text() is not None:
            pass  # nothing to say to the server yet; reading notices the socket closing
    finally:
        hub.remove(user_id, socket)
