"""A list stays cheap on a big table: PostgreSQL reads the first page of posts through the
`(created_at, id)` index, newest first, without sorting the table, and `total`, counted in the
same statement, stops counting at TOTAL_CAP. The plan is what is pinned here, not a time: times
flake, plans do not."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text

from blog.database import get_engine
from blog.deps import TOTAL_CAP
from blog.main import app
from tests.conftest import register

POSTS = 200_000  # enough for the planner to prefer the index, quick to insert


@pytest.fixture
def big_blog(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    app.dependency_overrides[get_engine] = lambda: engine
    yield engine
    app.dependency_overrides.clear()
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


def test_the_first_page_of_a_big_blog_reads_an_index_not_the_whole_table(
    big_blog: Engine,
) -> None:
    with TestClient(app) as client:
        author = register(client, "ada")
        with big_blog.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO posts (title, body, author_id, created_at, updated_at) "
                    "SELECT 'Post ' || n, 'text', :author, now() - n * interval '1 second', now() "
                    "FROM generate_series(1, :posts) AS n"
                ),
                {"author": author.id, "posts": POSTS},
            )
            connection.execute(text("ANALYZE"))
        [page] = statements_of(big_blog, client, "/posts?limit=20")
        total = client.get("/posts").json()["total"]

    with big_blog.connect() as connection:
        plan = "\n".join(connection.exec_driver_sql("EXPLAIN " + page[0], page[1]).scalars())
    # The page: newest first, straight off the index (a scan of the table itself would print
    # as "Seq Scan on posts  (cost=...").
    assert "Index Scan Backward using ix_posts_created_at_id on posts  (" in plan, plan
    assert "Sort" not in plan, plan
    assert "Seq Scan on posts  (" not in plan, plan
    # The total: a subquery over its own copy of the table (`posts_1`), run once for the whole
    # statement (an InitPlan, not once per row), that stops reading at the cap.
    assert "InitPlan" in plan, plan
    assert f"rows={TOTAL_CAP} " in plan, plan

    assert total == TOTAL_CAP
