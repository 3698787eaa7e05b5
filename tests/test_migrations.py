"""Alembic owns the schema: migrations build exactly what the models describe, and undo it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect

from blog.__main__ import ALEMBIC_INI


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Connection]:
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def alembic_config(connection: Connection) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["connection"] = connection  # read by alembic/env.py
    config.attributes["configure_logger"] = False  # leave pytest's log capture alone
    return config


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_there_is_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_heads()) == 1


def test_upgrade_builds_the_schema_the_models_describe(
    alembic_config: Config, connection: Connection
) -> None:
    command.upgrade(alembic_config, "head")
    connection.commit()
    assert table_names(connection) == {"users", "posts", "comments", "alembic_version"}
    command.check(alembic_config)  # raises if the models and the migrated schema differ


def test_downgrade_to_base_removes_everything(
    alembic_config: Config, connection: Connection
) -> None:
    command.upgrade(alembic_config, "head")
    command.downgrade(alembic_config, "base")
    connection.commit()
    assert table_names(connection) == {"alembic_version"}
    command.upgrade(alembic_config, "head")  # and it can be built again
    connection.commit()
    assert "users" in table_names(connection)


def test_downgrade_to_the_first_migration_keeps_users_only(
    alembic_config: Config, connection: Connection
) -> None:
    script = ScriptDirectory.from_config(alembic_config)
    first = script.get_base()
    assert first is not None
    command.upgrade(alembic_config, "head")
    command.downgrade(alembic_config, first)
    connection.commit()
    assert table_names(connection) == {"users", "alembic_version"}


def test_foreign_keys_cascade_and_are_named(alembic_config: Config, connection: Connection) -> None:
    command.upgrade(alembic_config, "head")
    connection.commit()
    foreign_keys = {
        (table, key["name"], key["referred_table"], key["options"].get("ondelete"))
        for table in ("posts", "comments")
        for key in inspect(connection).get_foreign_keys(table)
    }
    assert foreign_keys == {
        ("posts", "fk_posts_author_id_users", "users", "CASCADE"),
        ("comments", "fk_comments_post_id_posts", "posts", "CASCADE"),
        ("comments", "fk_comments_author_id_users", "users", "CASCADE"),
    }


def test_the_list_queries_have_indexes(alembic_config: Config, connection: Connection) -> None:
    command.upgrade(alembic_config, "head")
    connection.commit()

    def indexes(table: str) -> dict[str, list[str]]:
        return {
            index["name"]: index["column_names"] for index in inspect(connection).get_indexes(table)
        }

    assert indexes("posts") == {
        "ix_posts_created_at_id": ["created_at", "id"],
        "ix_posts_author_id_created_at_id": ["author_id", "created_at", "id"],
    }
    assert indexes("comments") == {
        "ix_comments_post_id_created_at_id": ["post_id", "created_at", "id"],
        "ix_comments_author_id": ["author_id"],
    }


def test_constraints_have_the_conventional_names(
    alembic_config: Config, connection: Connection
) -> None:
    command.upgrade(alembic_config, "head")
    connection.commit()
    unique_names = {item["name"] for item in inspect(connection).get_unique_constraints("users")}
    assert unique_names == {"uq_users_email", "uq_users_username_key"}
    assert inspect(connection).get_pk_constraint("users")["name"] == "pk_users"
