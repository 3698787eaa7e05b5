"""Live notifications: `/ws/notifications` pushes events to a signed-in user as they happen.

Lesson: a WebSocket stays open, so the server pushes when something happens.
`/ws/notifications?token=<JWT>` authenticates once, says `{"type": "ready"}`, then pushes JSON
events: `comment.created` when someone else comments on one of your posts. When an account's
tokens end (logout, password change, deleted account) its sockets close with 1008. Which sockets
are open, and how an event reaches them on every process, is the hub's business (`blog/hub.py`).
The token is checked in a session that ends with the check: a socket may stay open for hours, and
must hold no database connection meanwhile; while every session is taken, the socket closes with
1013 (try again later), and so it does over a cap: `WEBSOCKET_MAX_PER_ACCOUNT` sockets per account
in this process, and the process's own (`blog/realtime.py`).
"""

import time
from datetime import datetime
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect, status
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel
from starlette.websockets import WebSocketState

from blog import capacity
from blog.capacity import a_slot_of
from blog.config import settings
from blog.database import get_engine
from blog.deps import get_current_user
from blog.errors import DomainError, ServerBusy
from blog.hub import hub
from blog.realtime import FrameGuard, TooManySockets, open_sockets
from blog.security import decode_access_token
from blog.users.models import UserPublic

router = APIRouter()

# How often an open socket's token is checked again, for endings no process was told about.
TOKEN_RECHECK_SECONDS = 60


class CommentCreatedEvent(SQLModel):
    """Pushed to a post's author over `/ws/notifications` when someone else comments on it;
    read from the new `Comment` (`CommentCreatedEvent.model_validate(comment)`)."""

    type: Literal["comment.created"] = "comment.created"
    post_id: int
    comment_id: int = Field(validation_alias="id")
    commenter: UserPublic = Field(validation_alias="author")
    created_at: datetime


async def close_unless_closed(socket: WebSocket, code: int, reason: str) -> None:
    """Close `socket`, unless this app has closed it already: a second close is an error."""
    if socket.application_state != WebSocketState.DISCONNECTED:
        await socket.close(code, reason)


def active_user_id(engine: Engine, token: str | None) -> int | None:
    with Session(engine) as session:
        try:
            return get_current_user(session, token).id
        except DomainError:  # no token, or not a valid one
            return None


async def signed_in_user_id(engine: Engine, token: str | None) -> int | None:
    """Whose valid token this is (None: nobody's), checked in a session of its own."""
    async with a_slot_of(capacity.session_slots, settings.database_pool_timeout):
        return await anyio.to_thread.run_sync(active_user_id, engine, token)


@router.websocket("/ws/notifications")
async def notifications(
    socket: WebSocket, engine: Annotated[Engine, Depends(get_engine)], token: str | None = None
) -> None:
    """Pushes your notifications as JSON; closes with 1008 without a valid token, with 1013
    while the server is busy or over a socket cap."""
    await socket.accept()  # accept first: only an open socket can carry a close code
    # The signature alone names the account, so its cap applies before any database work:
    # a burst of one account's sockets is refused here and takes none of the process's places.
    claims = decode_access_token(token) if token else None
    if claims is None:
        await socket.close(status.WS_1008_POLICY_VIOLATION, "a valid token is required")
        return
    account = f"account {claims.user_id}"
    try:
        with (
            open_sockets.one_more_for(account, settings.websocket_max_per_account),
            open_sockets.one_more(),
        ):
            await push_notifications(socket, engine, token)
    except (ServerBusy, TooManySockets) as refusal:
        await close_unless_closed(socket, status.WS_1013_TRY_AGAIN_LATER, str(refusal))
    except WebSocketDisconnect:
        return  # the client left while we spoke to it: nobody is left to answer


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
        await listen_while_signed_in(socket, engine, token)
    finally:
        hub.remove(user_id, socket)


async def listen_while_signed_in(socket: WebSocket, engine: Engine, token: str | None) -> None:
    """Read until the socket closes, and check the token again every `TOKEN_RECHECK_SECONDS`:
    an ending no other process heard of (a deactivation without Redis) closes it too (1008)."""
    guard = FrameGuard(socket)
    checked_at = time.monotonic()
    while True:
        with anyio.move_on_after(TOKEN_RECHECK_SECONDS):
            if await guard.receive_text() is None:
                return  # nothing to say to the server yet; reading notices the socket closing
        if time.monotonic() - checked_at >= TOKEN_RECHECK_SECONDS:
            if await signed_in_user_id(engine, token) is None:
                await close_unless_closed(socket, status.WS_1008_POLICY_VIOLATION, "signed out")
                return
            checked_at = time.monotonic()
