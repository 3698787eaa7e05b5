"""A list stays cheap on a big table: PostgreSQL reads the first page of posts through the
`(created_at, id)` index, newest first, without sorting the table, and `total` stops counting at
TOTAL_CAP. The plan is what is pinned here, not a time: times flake, plans do not."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text

from blog.pagination import TOTAL_CAP
from tests.helpers import register

POSTS = 200_000  # enough for the planner to prefer the index, quick to insert


@pytest.fixture(name="engine")  # the `client` fixture's database: a new, migrated one
def big_blog(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def statements_of(engine: Engine, client: TestClient, path: str) -> list[tuple[str, Any]]:
    """Every statement (with its parameters) the app runs to answer GET `path`."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def plan_of(engine: Engine, statement: tuple[str, Any]) -> str:
    with engine.connect() as connection:
        return "\n".join(
            connection.exec_driver_sql("EXPLAIN " + statement[0], statement[1]).scalars()
        )


def test_the_first_page_of_a_big_blog_reads_an_index_not_the_whole_table(
    engine: Engine, client: TestClient
) -> None:
    author = register(client, "ada")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO posts (title, body, author_id, created_at, updated_at) "
                "SELECT 'Post ' || n, 'text', :author, now() - n * interval '1 second', now() "
                "FROM generate_series(1, :posts) AS n"
            ),
            {"author": author.id, "posts": POSTS},
        )
        connection.execute(text("ANALYZE"))
    page, count = statements_of(engine, client, "/posts?limit=20")
    total = client.get("/posts").json()["total"]

    # The page: newest first, straight off the index (a scan of the table itself would print
    # as "Seq Scan on posts  (cost=...").
    page_plan = plan_of(engine, page)
    assert "Index Scan Backward using ix_posts_created_at_id on posts  (" in page_plan, page_plan
    assert "Sort" not in page_plan, page_plan
    assert "Seq Scan on posts  (" not in page_plan, page_plan
    # The total: a count that stops reading at the cap.
    count_plan = plan_of(engine, count)
    assert "Limit  (" in count_plan, count_plan
    assert f"rows={TOTAL_CAP} " in count_plan, count_plan
    assert total == TOTAL_CAP
