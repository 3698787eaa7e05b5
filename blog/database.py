"""The database: one engine, one session per request, and the rules every table follows.

Lesson: the app talks to SQLite in development and PostgreSQL in production through the same
SQLAlchemy engine, so the differences are handled here and nowhere else. SQLite ignores foreign
keys unless every connection turns them on; constraints get explicit names so Alembic migrations
can drop and rename them on any database; timestamps are stored and returned as timezone-aware UTC.
`get_session` is the dependency every route uses (and the one tests override with an in-memory
database).
"""

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from fastapi import Depends
from sqlalchemy import URL, DateTime, Engine, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from blog.capacity import a_slot_of
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


# Ids are PostgreSQL `integer`s: nothing outside 1..MAX_ID names a row, or may reach a query.
MAX_ID = 2_147_483_647


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
    """An engine for `url`, its pool and time limits from settings, on SQLite and PostgreSQL."""
    if make_url(url).database in (None, "", ":memory:"):
        # An in-memory SQLite database lives in its one connection: no pool to size.
        return sqlite_engine(url, connect_args={"check_same_thread": False})
    pool = {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout,
    }
    if url.startswith("sqlite"):
        # `timeout`: how long a write waits for another writer's lock on the file (then 503).
        limits = {"check_same_thread": False, "timeout": settings.database_statement_timeout}
        return sqlite_engine(url, connect_args=limits, **pool)
    return create_engine(
        url,
        # Test each pooled connection before use: after a database restart the app recovers
        # on its own instead of failing once per stale connection.
        pool_pre_ping=True,
        # Errors and logs show the SQL but never its values (emails, password hashes).
        hide_parameters=True,
        connect_args=postgresql_time_limits(),
        **pool,
    )


def sqlite_engine(url: str, **options: Any) -> Engine:
    engine = create_engine(url, hide_parameters=True, **options)
    enable_sqlite_foreign_keys(engine)
    return engine


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


def get_engine() -> Engine:
    """The engine, for work outside the request's session: the health check, a WebSocket's
    token check, a background task. Tests swap the database here and in `get_session`."""
    return engine


# A request holds one of these while it has a session: never more sessions than connections.
session_slots = anyio.Semaphore(settings.database_sessions)


async def take_session_slot() -> AsyncIterator[None]:
    """Wait on the event loop, not in a thread, for a free session (503 after the wait)."""
    async with a_slot_of(session_slots, settings.database_pool_timeout):
        yield


SessionSlot = Annotated[None, Depends(take_session_slot, scope="function")]


def get_session(_slot: SessionSlot) -> Iterator[Session]:
    """One session per request, closed when the route's answer is ready."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
