"""The notification hub: the WebSockets this process holds, per user, and how events reach them.

Lesson: a route that wants to tell someone something (a new comment on their post) calls
`hub.publish(user_id, event)`; the hub sends the event to every socket that user has open. With one
process that is the whole story. With several (uvicorn `--workers`, Railway replicas) the user's
socket may be held by another process, so with `REDIS_URL` every message goes through a Redis
pub/sub channel that every process listens to (`RedisRelay`), and each delivers to the sockets it
holds; while Redis fails, messages still reach this process's sockets. When an account's tokens
end, `hub.sign_out` closes its sockets with 1008 the same way. A socket that fails, or takes
longer than `SEND_SECONDS` to take a message (its client reads nothing), is forgotten, so one
client cannot hold up everyone's events; the server drops such a socket (`blog/connections.py`).
"""

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
from fastapi import WebSocket, WebSocketDisconnect, status

from blog.config import settings

logger = logging.getLogger(__name__)

CHANNEL = "blog:notifications"
SEND_SECONDS = 1.0


class Relay(Protocol):
    async def publish(self, message: dict[str, Any]) -> bool:
        """Send `message` to every process; False if it could not."""
        ...


class NotificationHub:
    """The sockets this process holds, per user, and the way messages reach them."""

    def __init__(self) -> None:
        self.sockets: defaultdict[int, set[WebSocket]] = defaultdict(set)
        self.relay: Relay | None = None  # with REDIS_URL, a `RedisRelay`

    def add(self, user_id: int, socket: WebSocket) -> None:
        self.sockets[user_id].add(socket)

    def remove(self, user_id: int, socket: WebSocket) -> None:
        self.sockets[user_id].discard(socket)
        if not self.sockets[user_id]:
            del self.sockets[user_id]

    async def publish(self, user_id: int, event: dict[str, Any]) -> None:
        """Send `event` to every socket of `user_id`, in this process or any other."""
        await self.send({"user_id": user_id, "event": event})

    async def sign_out(self, user_id: int) -> None:
        """Close every socket of `user_id` (1008), in this process or any other."""
        await self.send({"user_id": user_id, "sign_out": True})

    async def send(self, message: dict[str, Any]) -> None:
        if self.relay is None or not await self.relay.publish(message):
            await self.receive(message)

    async def receive(self, message: dict[str, Any]) -> None:
        """Do what `message` says to this process's sockets of its user."""
        user_id = message["user_id"]
        for socket in list(self.sockets.get(user_id, ())):
            try:
                # A client that does not read must not hold up everyone's events behind it.
                with anyio.fail_after(SEND_SECONDS):
                    if message.get("sign_out"):
                        self.remove(user_id, socket)
                        await socket.close(status.WS_1008_POLICY_VIOLATION, "signed out")
                    else:
                        await socket.send_json(message["event"])
            except (WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
                self.remove(user_id, socket)  # it went away, or does not read: forgotten


hub = NotificationHub()


class RedisRelay:
    """Messages through one Redis pub/sub channel: published by any process, heard by all."""

    def __init__(self, redis_url: str, hub: NotificationHub) -> None:
        # Imported here: the redis package costs a process memory an app without Redis saves.
        import redis.asyncio as redis

        self.redis = redis.from_url(redis_url)
        self.errors = (redis.RedisError, OSError)
        self.hub = hub

    async def publish(self, message: dict[str, Any]) -> bool:
        try:
            await self.redis.publish(CHANNEL, json.dumps(message))
        except self.errors as error:
            logger.warning("redis publish failed, delivering in this process only: %r", error)
            return False
        return True

    async def listen(self, ready: asyncio.Event) -> None:
        """Hand every message on the channel to the hub; reconnect (once a second) if Redis
        goes away. `ready` is set once subscribed (or failed once)."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    ready.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            await self.hub.receive(json.loads(message["data"]))
            except self.errors as error:
                ready.set()
                logger.warning("redis subscription lost, retrying in 1 s: %r", error)
                await asyncio.sleep(1)


@asynccontextmanager
async def notifications_across_processes() -> AsyncIterator[None]:
    """With `REDIS_URL`, the hub sends through Redis and listens to it while the app runs (the
    app's lifespan enters this)."""
    if not settings.redis_url:
        yield
        return
    relay = RedisRelay(settings.redis_url, hub)
    ready = asyncio.Event()
    listener = asyncio.create_task(relay.listen(ready))
    await ready.wait()  # subscribed (or failed once) before the app takes requests
    hub.relay = relay
    try:
        yield
    finally:
        hub.relay = None
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await relay.redis.aclose()
