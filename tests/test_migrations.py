"""Alembic owns the schema: migrations build exactly what the models describe, and undo it.

pytest-alembic's standard checks (one head; upgrade through every revision; the models match the
migrated schema; every revision can be downgraded and upgraded again) run on an empty SQLite file,
or on a fresh PostgreSQL database when TEST_DATABASE_URL is set. The tests below them check what
this schema promises: named constraints, cascading foreign keys and the indexes the lists use.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from pytest_alembic import MigrationContext
from pytest_alembic.tests import (  # noqa: F401  (collected as tests of this module)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, create_engine, inspect

from blog.__main__ import ALEMBIC_INI
from blog.database import enable_sqlite_foreign_keys
from tests.helpers import TEST_DATABASE_URL, fresh_postgres_database


@pytest.fixture
def alembic_config() -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logger"] = False  # leave pytest's log capture alone
    return config


@pytest.fixture
def alembic_engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty database for the migrations: a SQLite file, or a new PostgreSQL database."""
    if TEST_DATABASE_URL is not None:
        with fresh_postgres_database(TEST_DATABASE_URL) as url:
            engine = create_engine(url)
            yield engine
            engine.dispose()
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    enable_sqlite_foreign_keys(engine)
    yield engine
    engine.dispose()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_creates_every_table(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    assert table_names(alembic_engine) == {
        "users",
        "posts",
        "comments",
        "password_reset_tokens",
        "alembic_version",
    }


def test_downgrade_to_base_removes_everything(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    alembic_runner.migrate_down_to("base")
    assert table_names(alembic_engine) == {"alembic_version"}


def test_downgrade_to_the_first_migration_keeps_the_accounts_only(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    first = alembic_runner.history.revisions[1]  # [0] is "base"
    alembic_runner.migrate_up_to("heads")
    alembic_runner.migrate_down_to(first)
    tables = table_names(alembic_engine)
    # A student's first migration (the copy steps) also has the reset tokens; ours added them later.
    assert tables - {"password_reset_tokens"} == {"users", "alembic_version"}


def test_foreign_keys_cascade_and_are_named(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    foreign_keys = {
        (table, key["name"], key["referred_table"], key["options"].get("ondelete"))
        for table in ("posts", "comments")
        for key in inspect(alembic_engine).get_foreign_keys(table)
    }
    assert foreign_keys == {
        ("posts", "fk_posts_author_id_users", "users", "CASCADE"),
        ("comments", "fk_comments_post_id_posts", "posts", "CASCADE"),
        ("comments", "fk_comments_author_id_users", "users", "CASCADE"),
    }


def test_the_list_queries_have_indexes(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")

    def indexes(table: str) -> dict[str, list[str]]:
        found = inspect(alembic_engine).get_indexes(table)
        return {index["name"]: index["column_names"] for index in found}  # type: ignore[misc]

    # Newest posts first by id: the primary key serves the whole list, this one an author's;
    # on PostgreSQL, trigram indexes answer a search (SQLite has no such index, and scans).
    postgresql = alembic_engine.dialect.name == "postgresql"
    search = (
        {"ix_posts_title_trgm": ["title"], "ix_posts_body_trgm": ["body"]} if postgresql else {}
    )
    assert indexes("posts") == {"ix_posts_author_id_id": ["author_id", "id"], **search}
    assert indexes("comments") == {
        "ix_comments_post_id_id": ["post_id", "id"],
        "ix_comments_author_id": ["author_id"],
    }


def test_constraints_have_the_conventional_names(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("heads")
    unique = {item["name"] for item in inspect(alembic_engine).get_unique_constraints("users")}
    assert unique == {"uq_users_email", "uq_users_username_key"}
    for table in ("users", "posts", "comments"):
        # SQLite's AUTOINCREMENT must be written on the id column itself, where a primary key
        # has no name; PostgreSQL keeps the conventional one.
        expected = None if alembic_engine.dialect.name == "sqlite" else f"pk_{table}"
        assert inspect(alembic_engine).get_pk_constraint(table)["name"] == expected
