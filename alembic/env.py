"""Alembic's entry point: which database to migrate, and which models describe the target schema.

Lesson: migrations compare `SQLModel.metadata` (filled by importing every models module below:
each registers its tables there, so a lesson that adds tables adds its import) with the real
database. The URL comes from the same `Settings` as the app, so there is one DATABASE_URL.
SQLite cannot ALTER most things in place, so on SQLite Alembic works in "batch" mode (copy, change,
swap); `compare_type` makes autogenerate notice changed column types too.
"""

from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

import blog.comments.models  # step 11
import blog.posts.models  # step 10
import blog.users.models  # step 4
import blog.users.recovery  # noqa: F401  # step 17
from blog.config import settings
from blog.database import (
    UTCDateTime,  # step 4
    make_engine,
    unreachable_database_message,
)
from blog.logs import configure_logging  # step 13

config = context.config

# alembic.ini's text format, leaving the app's own loggers working when `python -m blog`
# migrates (it logs through the app's handler instead).
if config.attributes.get("configure_logger", True) and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
    # Log like the app in production, where Railway's pre-deploy command runs the migrations.
    if settings.environment == "production":  # step 13
        configure_logging(json_lines=True, level=settings.log_level)  # step 13

target_metadata = SQLModel.metadata
# Indexes of PostgreSQL's alone, which no model describes (SQLite cannot have them): the
# trigram indexes search reads, from the migration "search from a trigram index".
DATABASE_ONLY_INDEXES = {"ix_posts_title_trgm", "ix_posts_body_trgm"}  # step 20


def include_object(  # step 20
    item: object,  # step 20
    name: str | None,  # step 20
    kind: str,  # step 20
    reflected: bool,  # step 20
    compare_to: object,  # step 20
) -> bool:  # step 20
    """Whether autogenerate compares `item`: all but the database's own indexes."""  # step 20
    return not (kind == "index" and name in DATABASE_ONLY_INDEXES)  # step 20


def render_item(kind: str, item: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our UTCDateTime columns as the plain type they store, so migrations need no import
    of the app (it converts values in Python; the database column is TIMESTAMP WITH TIME ZONE)."""
    if kind == "type" and isinstance(item, UTCDateTime):  # step 4
        return "sa.DateTime(timezone=True)"  # step 4
    return False


def run_migrations(connection: Connection) -> None:
    sqlite_rebuilds_tables = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite_rebuilds_tables:
        # Batch mode rebuilds a SQLite table by copying it and dropping the old one; with foreign
        # keys on, dropping `users` would delete every post through ON DELETE CASCADE. The pragma
        # only takes effect outside a transaction; the check afterwards proves nothing dangles.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,  # step 20
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite_rebuilds_tables:
        dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if dangling:
            raise RuntimeError(f"rows point at rows that do not exist: {dangling}")


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(
        url=settings.database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=render_item,
        render_as_batch=settings.database_url.startswith("sqlite"),
        compare_type=True,
        include_object=include_object,  # step 20
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # Tests (pytest-alembic among them) may hand over an engine or a connection of their own.
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        run_migrations(given)
        return
    engine = given if isinstance(given, Engine) else make_engine(settings.database_url)
    try:
        connection = engine.connect()
    except OperationalError as error:
        # One line that says which setting is wrong, instead of a traceback (password masked).
        raise SystemExit(unreachable_database_message(settings.database_url, error)) from None
    with connection:
        run_migrations(connection)
    if given is None:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
