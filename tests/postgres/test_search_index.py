"""Where PostgreSQL will not let the app add pg_trgm, the migrations still finish: the migration
"search from a trigram index" says so in a warning and builds no index, and a search reads
every post instead. pg_trgm is a trusted extension, so only a role without the CREATE privilege
on its database is refused it; this test makes one.
"""

import logging
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from tests.servers import migrate


@pytest.fixture
def url_of_a_role_that_may_not_add_extensions(empty_database_url: str) -> Iterator[str]:
    """The empty database's URL, as a role that may create tables but not extensions."""
    role = f"blog_no_extensions_{secrets.token_hex(4)}"
    admin = create_engine(empty_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
    try:
        yield make_url(empty_database_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_without_pg_trgm_the_migrations_finish_and_say_search_reads_every_post(
    url_of_a_role_that_may_not_add_extensions: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        migrate(url_of_a_role_that_may_not_add_extensions)
    [warning] = [record.getMessage() for record in caplog.records if "pg_trgm" in record.message]
    assert "search will read every post" in warning
    assert "permission denied" in warning  # PostgreSQL's own reason, in one line

    engine = create_engine(url_of_a_role_that_may_not_add_extensions)
    indexes = {index["name"] for index in inspect(engine).get_indexes("posts")}
    assert indexes == {"ix_posts_author_id_id"}
    with engine.connect() as connection:  # the app's search, without an index: it still works
        found = connection.execute(
            text("SELECT count(*) FROM posts WHERE title ILIKE '%tea%' OR body ILIKE '%tea%'")
        ).scalar_one()
    assert found == 0
    engine.dispose()
