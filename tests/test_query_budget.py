"""No N+1 queries: a page costs the same number of SQL statements whatever its size.

Each test fills the database, then counts the statements one request runs (an SQLAlchemy
`before_cursor_execute` listener) for a page of 1 and a page of 100. Authors come with their posts
and comments in the same query (`lazy="joined"`), comment counts are a column of the post, and
the total is one more statement.
"""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from blog.comments.models import Comment
from blog.posts.models import Post
from tests.helpers import Account, count_statements, create_post, register


@pytest.fixture
def busy_blog(client: TestClient, session: Session, user: Account, other_user: Account) -> int:
    """Six authors, 100 posts, 100 comments from all of them on one post; returns that post's id.

    Rows are inserted straight into the database: this test is about reading them back.
    """
    authors = [user, other_user] + [register(client, f"writer_{index}") for index in range(4)]
    posts = [
        Post(title=f"post {index}", body="text", author_id=authors[index % 6].id)
        for index in range(100)
    ]
    session.add_all(posts)
    session.commit()
    busy_post = posts[-1].id
    assert busy_post is not None
    session.add_all(
        Comment(body=f"comment {index}", post_id=busy_post, author_id=authors[index % 6].id)
        for index in range(100)
    )
    session.commit()
    return busy_post


def statements_for(client: TestClient, engine: Engine, path: str) -> int:
    with count_statements(engine) as statements:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return len(statements)


def test_listing_posts_costs_two_statements_for_any_page_size(
    client: TestClient, engine: Engine, busy_blog: int, user: Account
) -> None:
    one = statements_for(client, engine, "/posts?limit=1")
    hundred = statements_for(client, engine, "/posts?limit=100")
    assert one == hundred == 2  # the page with its authors, then the total
    filtered = f"/posts?limit=100&q=post&author_id={user.id}"
    page = client.get(filtered).json()
    assert (len(page["items"]), page["total"]) == (17, 17)  # one post in six is theirs
    # A page that is not full says how many there are: nothing to count.
    assert statements_for(client, engine, filtered) == 1


def test_listing_comments_costs_three_statements_for_any_page_size(
    client: TestClient, engine: Engine, busy_blog: int
) -> None:
    one = statements_for(client, engine, f"/posts/{busy_blog}/comments?limit=1")
    hundred = statements_for(client, engine, f"/posts/{busy_blog}/comments?limit=100")
    assert one == hundred == 3  # the post (404 check), the page with its authors, the total


def test_listing_users_costs_two_statements_or_one_for_a_page_that_is_not_full(
    client: TestClient, engine: Engine, busy_blog: int
) -> None:
    assert statements_for(client, engine, "/users?limit=1") == 2  # the page, the total
    assert statements_for(client, engine, "/users?limit=100") == 1  # all six: nothing to count


def test_reading_a_post_costs_one_statement_with_or_without_comments(
    client: TestClient, engine: Engine, user: Account, busy_blog: int
) -> None:
    quiet_post = create_post(client, user)["id"]
    assert client.get(f"/posts/{busy_blog}").json()["comment_count"] == 100
    # The post with its author; the count is a column of the post.
    assert statements_for(client, engine, f"/posts/{busy_blog}") == 1
    assert statements_for(client, engine, f"/posts/{quiet_post}") == 1


@pytest.mark.parametrize("path", ["/posts", "/users"])
def test_a_page_past_the_end_is_empty_and_still_counts(
    client: TestClient, busy_blog: int, path: str
) -> None:
    first_page = client.get(path).json()
    past_the_end = client.get(f"{path}?offset=1000").json()
    assert (past_the_end["items"], past_the_end["total"]) == ([], first_page["total"])


def test_writes_answer_from_what_they_hold_instead_of_reloading(
    client: TestClient, engine: Engine, user: Account, other_user: Account
) -> None:
    def statements_for_post(path: str, account: Account, body: dict[str, str]) -> int:
        with count_statements(engine) as statements:
            response = client.post(path, headers=account.headers, json=body)
        assert response.status_code == 201, response.text
        return len(statements)

    # the signed-in user, the insert: the answer is built from them (author: you, 0 comments)
    assert statements_for_post("/posts", user, {"title": "t", "body": "b"}) == 2
    post_id = client.get("/posts").json()["items"][0]["id"]
    # the signed-in user, the post, the insert (its trigger counts it, inside the database)
    assert statements_for_post(f"/posts/{post_id}/comments", other_user, {"body": "c"}) == 3
