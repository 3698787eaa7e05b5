"""The database: one engine, one session per request, and the rules every table follows.

Lesson: the app talks to SQLite in development and PostgreSQL in production through the same
SQLAlchemy engine, so the differences are handled here and nowhere else. SQLite ignores foreign
keys unless every connection turns them on; constraints get explicit names so Alembic migrations
can drop and rename them on any database; timestamps are stored and returned as timezone-aware UTC.
`get_session` is the dependency every route uses (and the one tests override with an in-memory
database).
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, create_engine, event
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


ValueT = TypeVar("ValueT")


def reject_null(value: ValueT | None) -> ValueT:
    """For PATCH models: a field may be left out, but `null` for a NOT NULL column is a 422, not
    a database error. In a model: `not_null = field_validator("title", ...)(reject_null)`."""
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


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
    """An engine for `url`, with the SQLite settings a threaded web server needs."""
    connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    enable_sqlite_foreign_keys(engine)
    return engine


engine = make_engine(settings.database_url)


def save_changes(session: Session, row: SQLModel, changes: dict[str, Any]) -> None:
    """Apply a PATCH: copy the fields that were sent onto `row`, move its `updated_at`, commit.
    Nothing sent, nothing written (not even `updated_at`)."""
    if not changes:
        return
    row.sqlmodel_update({**changes, "updated_at": utc_now()})
    session.add(row)
    session.commit()


def get_session() -> Iterator[Session]:
    """One session per request; nothing is written unless the route commits."""
    with Session(engine) as session:
        yield session
