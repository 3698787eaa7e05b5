"""A list stays cheap on a big table: PostgreSQL reads a page of posts off an index, newest first,
without sorting the table, at any depth a `before` names (the primary key's index for every
post, `(author_id, id)` for one author's), and `total` stops counting at TOTAL_CAP. The plan is
what is pinned here, not a time: times flake, plans do not."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text

from blog.pagination import TOTAL_CAP
from tests.helpers import register

POSTS = 200_000  # enough for the planner to prefer the index, quick to insert


@pytest.fixture(name="engine")  # the `client` fixture's database: a new, migrated one
def the_test_database(database_url: str) -> Iterator[Engine]:
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


@pytest.fixture
def big_blog(engine: Engine, client: TestClient) -> tuple[int, int]:
    """POSTS posts by two authors, one in a hundred by the second; (the second author's id,
    the oldest post's id)."""
    authors = [register(client, "ada").id, register(client, "grace").id]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO posts (title, body, author_id, created_at, updated_at) "
                "SELECT 'Post ' || n, 'text', CASE WHEN n % 100 = 0 THEN :grace ELSE :ada END, "
                "now() - n * interval '1 second', now() "
                "FROM generate_series(1, :posts) AS n"
            ),
            {"ada": authors[0], "grace": authors[1], "posts": POSTS},
        )
        connection.execute(text("ANALYZE"))
        oldest = connection.execute(text("SELECT min(id) FROM posts")).scalar_one()
    return authors[1], oldest


def assert_read_off(index: str, plan: str) -> None:
    """The page comes straight off `index`, newest first: no sort, no scan of the table (which
    would print as "Seq Scan on posts  (cost=...")."""
    assert f"Index Scan Backward using {index} on posts  (" in plan, plan
    assert "Sort" not in plan, plan
    assert "Seq Scan on posts  (" not in plan, plan


def test_the_first_page_of_a_big_blog_reads_an_index_not_the_whole_table(
    engine: Engine, client: TestClient, big_blog: tuple[int, int]
) -> None:
    page, count = statements_of(engine, client, "/posts?limit=20")
    total = client.get("/posts").json()["total"]
    assert_read_off("pk_posts", plan_of(engine, page))
    # The total: a count that stops reading at the cap.
    count_plan = plan_of(engine, count)
    assert "Limit  (" in count_plan, count_plan
    assert f"rows={TOTAL_CAP} " in count_plan, count_plan
    assert total == TOTAL_CAP


def test_a_page_deep_in_a_big_blog_starts_from_the_index_at_its_position(
    engine: Engine, client: TestClient, big_blog: tuple[int, int]
) -> None:
    grace, oldest = big_blog
    deep = f"/posts?limit=20&before={oldest + 30}"  # the last page but one
    page, count = statements_of(engine, client, deep)
    page_plan = plan_of(engine, page)
    assert_read_off("pk_posts", page_plan)
    assert "Index Cond: (id < " in page_plan, page_plan
    assert "Index Cond: (id < " in plan_of(engine, count)  # the count starts there too

    # One author's page, halfway down: their own index, not every post until 20 are theirs.
    by_grace = f"/posts?limit=20&author_id={grace}&before={oldest + POSTS // 2}"
    page, _count = statements_of(engine, client, by_grace)
    page_plan = plan_of(engine, page)
    assert_read_off("ix_posts_author_id_id", page_plan)
    assert "Index Cond: ((author_id = " in page_plan and "(id < " in page_plan, page_plan


def test_a_search_reads_the_trigram_indexes(
    engine: Engine, client: TestClient, big_blog: tuple[int, int]
) -> None:
    rare = "/posts?limit=20&q=Post 123456"  # one title in POSTS
    [page] = statements_of(engine, client, rare)  # one post: the page says the total, no count
    plan = plan_of(engine, page)
    assert "Bitmap Index Scan on ix_posts_title_trgm" in plan, plan
    assert "Bitmap Index Scan on ix_posts_body_trgm" in plan, plan
    assert "Seq Scan on posts  (" not in plan, plan
    assert [post["title"] for post in client.get(rare).json()["items"]] == ["Post 123456"]
    [nothing] = statements_of(engine, client, "/posts?limit=20&q=xylophonist")  # in no post
    assert "Bitmap Index Scan on ix_posts_title_trgm" in plan_of(engine, nothing)
    [cyrillic] = statements_of(engine, client, "/posts?limit=20&q=привет")  # any alphabet's
    assert "Bitmap Index Scan on ix_posts_title_trgm" in plan_of(engine, cyrillic)


def test_a_deep_page_of_a_common_word_starts_from_the_index_at_its_position(
    engine: Engine, client: TestClient, big_blog: tuple[int, int]
) -> None:
    _grace, oldest = big_blog
    common = f"/posts?limit=20&q=post&before={oldest + POSTS // 2}"  # every title has it
    page, _count = statements_of(engine, client, common)
    page_plan = plan_of(engine, page)
    assert_read_off("pk_posts", page_plan)
    assert "Index Cond: (id < " in page_plan, page_plan
