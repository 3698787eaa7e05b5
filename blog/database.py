"""The database: one engine, one session per request, and the rules every table follows.

Lesson: the app talks to SQLite in development and PostgreSQL in production through the same
SQLAlchemy engine, so the differences are handled here and nowhere else. SQLite ignores foreign
keys unless every connection turns them on; constraints get explicit names so Alembic migrations
can drop and rename them on any database; timestamps are stored and returned as timezone-aware UTC.
`get_session` is the dependency every route uses (and the one tests override with an in-memory
database).
"""

from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import anyio
from fastapi import Depends
from sqlalchemy import URL, Connection, DateTime, Engine, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from blog.config import settings

# Named constraints: `uq_users_email` instead of a name each database invents for itself.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Every table model imports this module (for UTCDateTime), so the convention is in place before
# the first table is defined.
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_row_times() -> dict[str, datetime]:
    """`created_at` and `updated_at` of a new row: one instant, so "never edited" is visible."""
    now = utc_now()
    return {"created_at": now, "updated_at": now}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that only accepts and returns timezone-aware UTC datetimes.

    PostgreSQL keeps the time zone; SQLite does not, so values read back from it are naive and
    get their UTC zone re-attached here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC values only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # PostgreSQL answers in the session's time zone


def enable_sqlite_foreign_keys(engine: Engine) -> None:
    """Make SQLite enforce foreign keys (and so ON DELETE CASCADE) on every new connection."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _foreign_keys_on(dbapi_connection: Any, _connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`: pool and timeouts from settings for PostgreSQL, the settings a
    threaded web server needs for SQLite."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            # `timeout`: how long to wait for another writer's lock on the file (then 503).
            connect_args={
                "check_same_thread": False,
                "timeout": settings.database_statement_timeout,
            },
            hide_parameters=True,
        )
        enable_sqlite_foreign_keys(engine)
        return engine
    return create_engine(
        url,
        # Test each pooled connection before use: after a database restart the app recovers
        # on its own instead of failing once per stale connection.
        pool_pre_ping=True,
        # Errors and logs show the SQL but never its values (emails, password hashes).
        hide_parameters=True,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        connect_args=postgresql_time_limits(),
    )


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


def describe_database(url: str) -> str:
    """Which database, without credentials: `postgresql://db.internal:5432/railway`."""
    parsed = make_url(url)
    where = URL.create(
        parsed.get_backend_name(), host=parsed.host, port=parsed.port, database=parsed.database
    )
    return where.render_as_string()


def unreachable_database_message(url: str, error: Exception) -> str:
    """One line for a database that cannot be reached at start-up, with the password masked."""
    masked = make_url(url).render_as_string(hide_password=True)
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
    return f"DATABASE_URL: cannot connect to {masked}: {reason}"


engine = make_engine(settings.database_url)


async def get_engine() -> Engine:
    """The app's engine, as a dependency so tests can swap the database.

    `async def` although it awaits nothing: FastAPI runs a plain `def` dependency in a worker
    thread, and each such hop costs about 0.13 ms of CPU (measured). Nothing here can block.
    """
    return engine


def apply_changes(row: SQLModel, changes: dict[str, Any]) -> None:
    """Apply a PATCH: copy the fields that were sent onto `row` and move its `updated_at`.
    Nothing sent, nothing changed (not even `updated_at`). The route commits."""
    if changes:
        row.sqlmodel_update({**changes, "updated_at": utc_now()})


def open_session(bind: Engine | Connection) -> Session:
    """A session as every route gets it (tests open theirs with this too).

    `expire_on_commit=False`: after a commit the route still answers from the objects it holds,
    instead of reloading each of them from the database with one more query. Bound to a
    connection that is already in a transaction (the PostgreSQL tests), commits become savepoints.
    """
    return Session(bind, expire_on_commit=False, join_transaction_mode="create_savepoint")


async def get_session_factory(
    engine: Annotated[Engine, Depends(get_engine)],
) -> Callable[[], Session]:
    """For work that outlives the request (a background task): each call opens a new session.
    The request's own session is closed by the time a background task runs."""
    return partial(open_session, engine)


Params = ParamSpec("Params")
Result = TypeVar("Result")


class SessionInThread:
    """Runs a function of a session in a worker thread, with a session of its own that is
    opened, used and closed in that one thread hop; `await run_in_session(work, *args)` calls
    `work(session, *args)`, like SQLAlchemy's `AsyncSession.run_sync`.

    For `async def` routes whose work is nothing but queries (`GET /posts`, `GET /posts/{id}`).
    A plain `def` route with a `get_session` session costs three hops: the route, the check of
    its answer against `response_model` (FastAPI runs that in a thread for `def` routes too) and
    the session's close. This costs one; the README has the numbers. A request whose client goes
    away still waits for the thread to finish, so the session is always closed.
    """

    def __init__(self, open_session: Callable[[], Session]) -> None:
        self.open_session = open_session

    async def __call__(
        self,
        work: Callable[Concatenate[Session, Params], Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        def in_worker_thread() -> Result:
            with self.open_session() as session:
                return work(session, *args, **kwargs)

        return await anyio.to_thread.run_sync(in_worker_thread)


async def get_session_in_thread(
    open_session: Annotated[Callable[[], Session], Depends(get_session_factory)],
) -> SessionInThread:
    return SessionInThread(open_session)


async def get_session(
    engine: Annotated[Engine, Depends(get_engine)],
) -> AsyncGenerator[Session, None]:
    """One session per request; nothing is written unless the route commits.

    Opening a session does no I/O (it connects on its first query), so it happens right here
    on the event loop. Closing may talk to the database (a rollback, then the connection goes
    back to the pool), so it runs in a worker thread like the route itself: a blocking call on
    the event loop would stall every other request. One thread hop instead of two.
    """
    session = open_session(engine)
    try:
        yield session
    finally:
        # Shielded, so a request whose client went away still returns its connection; with a
        # limiter of its own, because the worker threads may all be taken by requests waiting
        # for the very connection this close gives back (FastAPI closes `def` dependencies so).
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
