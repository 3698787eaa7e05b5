"""Alembic's entry point: which database to migrate, and which models describe the target schema.

Lesson: migrations compare `SQLModel.metadata` (filled by importing every models module below) with
the real database. The URL comes from the same `Settings` as the app, so there is one DATABASE_URL.
SQLite cannot ALTER most things in place, so on SQLite Alembic works in "batch" mode (copy, change,
swap); `compare_type` makes autogenerate notice changed column types too.
"""

from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

# Each models module registers its tables on SQLModel.metadata; add yours here.
import blog.comments.models
import blog.posts.models
import blog.users.models  # noqa: F401
from blog.config import settings
from blog.database import UTCDateTime, make_engine

config = context.config

# Set up logging from alembic.ini, but leave the app's own loggers working when `python -m blog`
# runs migrations before serving.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def render_item(kind: str, item: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our UTCDateTime columns as the plain type they store, so migrations need no import
    of the app (it converts values in Python; the database column is TIMESTAMP WITH TIME ZONE)."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(
        url=settings.database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=render_item,
        render_as_batch=settings.database_url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # Tests (and pytest-alembic) may hand over a connection of their own.
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        run_migrations(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
