"""The database: one engine, one session per request, and the rules every table follows.

Lesson: the app talks to SQLite in development and PostgreSQL in production through the same
SQLAlchemy engine, so the differences are handled here and nowhere else. SQLite ignores foreign
keys unless every connection turns them on; constraints get explicit names so Alembic migrations
can drop and rename them on any database; timestamps are stored and returned as timezone-aware UTC.
`get_session` is the dependency every route uses (and the one tests override with an in-memory
database).
"""

from collections.abc import Iterator
from datetime import UTC, datetime  # step 4
from typing import Any

from sqlalchemy import (
    URL,
    DateTime,  # step 4
    Engine,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.engine import Dialect  # step 4
from sqlalchemy.types import TypeDecorator  # step 4
from sqlmodel import Session, SQLModel

from blog.capacity import SessionSlot, postgresql_time_limits  # step 15
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


def utc_now() -> datetime:  # step 4
    return datetime.now(UTC)  # step 4


# `created_at` and `updated_at` of a new row: one instant, so "never edited" is visible.
def new_row_times() -> dict[str, datetime]:  # step 4
    now = utc_now()  # step 4
    return {"created_at": now, "updated_at": now}  # step 4


# A timestamp column that only accepts and returns timezone-aware UTC datetimes. PostgreSQL keeps
# the time zone; SQLite does not, so values read back from it are naive and get their UTC zone
# re-attached here.
class UTCDateTime(TypeDecorator[datetime]):  # step 4
    impl = DateTime(timezone=True)  # step 4
    cache_ok = True  # step 4

    def process_bind_param(  # step 4
        self,  # step 4
        value: datetime | None,  # step 4
        dialect: Dialect,  # step 4
    ) -> datetime | None:  # step 4
        if value is None:  # step 4
            return None  # step 4
        if value.tzinfo is None:  # step 4
            raise ValueError("naive datetime: store timezone-aware UTC values only")  # step 4
        return value.astimezone(UTC)  # step 4

    def process_result_value(  # step 4
        self,  # step 4
        value: datetime | None,  # step 4
        dialect: Dialect,  # step 4
    ) -> datetime | None:  # step 4
        if value is None:  # step 4
            return None  # step 4
        if value.tzinfo is None:  # step 4
            return value.replace(tzinfo=UTC)  # step 4
        # PostgreSQL answers in the session's time zone.
        return value.astimezone(UTC)  # step 4


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
    """An engine for `url` on SQLite or PostgreSQL, its pool and time limits from settings."""
    if make_url(url).database in (None, "", ":memory:"):
        # An in-memory SQLite database lives in its one connection: no pool to size.
        return sqlite_engine(url, connect_args={"check_same_thread": False})
    pool: dict[str, Any] = {
        "pool_size": settings.database_pool_size,  # step 15
        "max_overflow": settings.database_max_overflow,  # step 15
        "pool_timeout": settings.database_pool_timeout,  # step 15
    }
    if url.startswith("sqlite"):
        limits: dict[str, Any] = {"check_same_thread": False}
        # How long a write waits for another writer's lock on the file (then 503).
        limits["timeout"] = settings.database_statement_timeout  # step 15
        return sqlite_engine(url, connect_args=limits, **pool)
    return create_engine(
        url,
        # Test each pooled connection before use: after a database restart the app recovers
        # on its own instead of failing once per stale connection.
        pool_pre_ping=True,
        # Errors and logs show the SQL but never its values (emails, password hashes).
        hide_parameters=True,
        connect_args=postgresql_time_limits(),  # step 15
        **pool,
    )


def sqlite_engine(url: str, **options: Any) -> Engine:
    engine = create_engine(url, hide_parameters=True, **options)
    enable_sqlite_foreign_keys(engine)
    return engine


def describe_database(url: str) -> str:
    """Which database, without credentials: `postgresql://db.internal:5432/railway`."""
    parsed = make_url(url)
    where = URL.create(
        parsed.get_backend_name(), host=parsed.host, port=parsed.port, database=parsed.database
    )
    return where.render_as_string()


def unreachable_database_message(url: str, error: Exception) -> str:  # step 2
    """One line for an unreachable database at start-up, its password masked."""  # step 2
    masked = make_url(url).render_as_string(hide_password=True)  # step 2
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]  # step 2
    return f"DATABASE_URL: cannot connect to {masked}: {reason}"  # step 2


engine = make_engine(settings.database_url)


def get_engine() -> Engine:
    """The engine, for work outside the request's session: the health check, a WebSocket's
    token check, a background task. Tests swap the database here and in `get_session`."""
    return engine


def get_session(
    _slot: SessionSlot,  # step 15
) -> Iterator[Session]:
    """One session per request, closed when the route's answer is ready."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
