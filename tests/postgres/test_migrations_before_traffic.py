"""Migrations run before traffic, while the old version still serves: none may lock a table's
writes for as long as an index takes to build.

`CREATE INDEX` on PostgreSQL blocks every write to its table until the index is built; `CREATE
INDEX CONCURRENTLY` (outside a transaction: `op.get_context().autocommit_block()`) does not. This
applies every migration one at a time to a fresh database, records the SQL each one sends, and
fails on an index built without CONCURRENTLY on a table the same migration did not create (a new
table is empty, and nothing else uses it yet). docs/migrations.md shows the pattern.
"""

import re
from collections.abc import Iterator

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection

from tests.servers import REPO_ROOT

CREATE_TABLE = re.compile(r"^\s*CREATE TABLE (?:IF NOT EXISTS )?\"?(\w+)\"?", re.IGNORECASE)
CREATE_INDEX = re.compile(
    r"^\s*CREATE (?:UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?\S+ ON \"?(\w+)\"?",
    re.IGNORECASE,
)


def indexes_that_lock_writes(statements: list[str]) -> list[str]:
    """The statements that build an index, without CONCURRENTLY, on a table they did not create."""
    created = {found.group(1) for found in map(CREATE_TABLE.match, statements) if found}
    return [
        statement
        for statement in statements
        if (found := CREATE_INDEX.match(statement))
        and not found.group(1)
        and found.group(2) not in created
    ]


def statements_of_each_migration(url: str) -> Iterator[tuple[str, list[str]]]:
    engine = create_engine(url)
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["connection"] = engine
    config.attributes["configure_logger"] = False
    sent: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    revisions = reversed(list(ScriptDirectory.from_config(config).walk_revisions()))
    for revision in revisions:
        sent.clear()
        command.upgrade(config, revision.revision)
        yield revision.revision, list(sent)
    engine.dispose()


def test_no_migration_builds_an_index_that_locks_a_table_in_use(empty_database_url: str) -> None:
    applied = dict(statements_of_each_migration(empty_database_url))
    # Every migration ran and sent its SQL (a student's history is theirs: any number of them).
    first = next(iter(applied.values()))
    assert any(CREATE_TABLE.match(statement) for statement in first)
    assert {revision: indexes_that_lock_writes(sent) for revision, sent in applied.items()} == {
        revision: [] for revision in applied
    }


def test_the_rule_tells_a_locking_index_from_a_concurrent_one_and_from_a_new_tables() -> None:
    locking = "CREATE INDEX ix_posts_title ON posts (title)"
    assert indexes_that_lock_writes([locking]) == [locking]
    assert indexes_that_lock_writes(["CREATE UNIQUE INDEX ix_u ON users (email)"]) != []
    assert (
        indexes_that_lock_writes(
            ["CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_posts_title ON posts (title)"]
        )
        == []
    )
    new_table = [
        "CREATE TABLE tags (\n\tid SERIAL NOT NULL\n)",
        "CREATE INDEX ix_tags ON tags (id)",
    ]
    assert indexes_that_lock_writes(new_table) == []
