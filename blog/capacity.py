"""Capacity: busy is not broken. A bounded number of requests at a time, and a 503 for the rest.

Lesson: a worker has a few database connections and a few dozen threads. Plain `def` routes and
dependencies run in those threads, and a request takes a thread more than once (its session, its
signed-in user, its body, the check of its answer). If every thread could wait for a connection,
a burst of requests would take every thread while the requests that hold the connections wait for
a thread to finish in: nothing would move until the pool's timeout. So requests first take a
*slot*, on the event loop, where waiting costs no thread: never more sessions than connections,
and never more sessions than threads. A request that gets no slot within the wait is answered
503 `server_busy` with `Retry-After`, at once and in the error shape, instead of timing out.
Before any slot, a request takes one of its client's own turns (`blog/addresses.py` says who
a client is): a few requests at once (`SESSIONS_PER_CLIENT`), two of them hashing, so a client
that sends a hundred requests at once queues behind itself, and everyone else finds only a few
of them ahead.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter  # step 21
from typing import Annotated, Any
from weakref import WeakValueDictionary

import anyio
import anyio.to_thread
from fastapi import Depends
from prometheus_client import Histogram  # step 21

from blog.addresses import ClientAddress
from blog.config import settings
from blog.errors import ServerBusy


@asynccontextmanager
async def a_slot_of(slots: anyio.Semaphore, wait: float) -> AsyncIterator[None]:
    """Hold one of `slots`, waiting at most `wait` seconds for it; else 503 `server_busy`."""
    with anyio.move_on_after(wait) as waiting:
        await slots.acquire()
    if waiting.cancelled_caught:  # the wait ran out before a slot came free
        raise ServerBusy("The server is busy. Try again in a moment.")
    try:
        yield
    finally:
        slots.release()


def size_the_thread_pool() -> None:
    """The event loop's worker threads, as many as `WORKER_THREADS` says (the app's lifespan
    calls this: each event loop has a pool of its own)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads


# Each client's own turns at each kind of slot, kept while a request of the client holds them.
client_turns: WeakValueDictionary[tuple[str, str], anyio.Semaphore] = WeakValueDictionary()


def turns_of(client: str, slots: str, at_once: int) -> anyio.Semaphore:
    """`client`'s own `at_once` turns at `slots`, shared by all of its requests in flight."""
    return client_turns.setdefault((client, slots), anyio.Semaphore(at_once))


async def take_a_turn(client: ClientAddress) -> AsyncIterator[None]:
    """One of the client's `SESSIONS_PER_CLIENT` turns, held until the route returns. A request
    takes it once, before any slot, so it never holds a slot while it waits behind its own
    client's other requests."""
    turns = turns_of(client, "requests", settings.sessions_per_client)
    async with a_slot_of(turns, settings.database_pool_timeout):
        yield


ClientTurn = Annotated[None, Depends(take_a_turn, scope="function")]  # once per request

password_hash_slots = anyio.Semaphore(settings.password_hash_concurrency)
HASHES_AT_ONCE_PER_CLIENT = 2
# How long requests wait for a hash slot, for `/metrics` (defined here, beside what it measures).
HASH_WAITS = Histogram("blog_password_hash_wait_seconds", "Hash slot waits", ["replica"])  # step 21


async def take_password_hash_slot(_turn: ClientTurn, client: ClientAddress) -> AsyncIterator[None]:
    """A hash slot, once the client has fewer than two: one address's flood waits behind itself."""
    started = perf_counter()  # step 21
    wait = settings.password_hash_timeout
    turns = turns_of(client, "hash", HASHES_AT_ONCE_PER_CLIENT)
    async with a_slot_of(turns, wait), a_slot_of(password_hash_slots, wait):
        HASH_WAITS.labels(settings.railway_replica_id).observe(perf_counter() - started)  # step 21
        yield


# A request holds one of these while it has a session: never more sessions than connections.
session_slots = anyio.Semaphore(settings.database_sessions)


async def take_session_slot(_turn: ClientTurn) -> AsyncIterator[None]:
    """Wait on the event loop, not in a thread, for a free session (503 after the wait)."""
    async with a_slot_of(session_slots, settings.database_pool_timeout):
        yield


SessionSlot = Annotated[None, Depends(take_session_slot, scope="function")]


def postgresql_time_limits() -> dict[str, Any]:
    """libpq connection settings so that no request waits on PostgreSQL for long.

    The server cancels a statement that runs, or waits for a row lock, longer than
    `DATABASE_STATEMENT_TIMEOUT` (an `OperationalError`, answered 503). A server or network that
    goes silent cannot answer even that, so TCP keepalives probe an idle connection after a few
    seconds, and `tcp_user_timeout` gives up on data the other side never acknowledges.
    """
    timeout_ms = round(settings.database_statement_timeout * 1000)
    return {
        "connect_timeout": settings.database_connect_timeout,
        "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": timeout_ms,
    }
