"""Writes that lose a race with a delete: 404 (the post or comment is gone) or 401 (the account
is gone), never a 500, and nothing half-written.

Each test replays the race deterministically: a dependency loads the row as usual, then another
session deletes it (or the account) and commits, before the route writes. These tests need
commits that other sessions see, so they run on a database of their own (a SQLite file, or a
fresh PostgreSQL database with TEST_DATABASE_URL) rather than inside the suite's rolled-back
transaction. `tests/postgres/test_races.py` runs the same races for real, 20 requests at a time.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, delete, func, select

from blog.comments.models import Comment
from blog.comments.router import comment_or_404
from blog.deps import IdPath, SessionDep, get_current_user, oauth2_scheme
from blog.main import app
from blog.posts.models import Post
from blog.posts.router import post_or_404
from blog.users.models import User
from tests.helpers import (
    PASSWORD,
    Account,
    assert_error,
    create_comment,
    create_post,
    database_of_its_own,
    register,
)


@pytest.fixture(name="engine")  # the `client` fixture's database: a file other sessions see
def committed_engine(tmp_path: Path) -> Iterator[Engine]:
    with database_of_its_own(tmp_path / "races.db") as engine:
        yield engine


@pytest.fixture
def racing_client(client: TestClient) -> TestClient:
    return client


@pytest.fixture
def delete_behind_its_back(engine: Engine) -> Callable[[type[SQLModel], int], None]:
    """Deletes a row and commits, from another session: what a simultaneous request does."""

    def delete_row(table: type[SQLModel], row_id: int) -> None:
        with Session(engine) as other:
            other.exec(delete(table).where(col(table.id) == row_id))  # type: ignore[attr-defined]
            other.commit()

    return delete_row


def count(engine: Engine, table: type[SQLModel]) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


@pytest.fixture
def post_vanishes(delete_behind_its_back: Callable[[type[SQLModel], int], None]) -> None:
    """`post_or_404` finds the post, and then it is deleted."""

    def post_then_gone(post_id: IdPath, session: SessionDep) -> Post:
        post = post_or_404(post_id, session)
        delete_behind_its_back(Post, post_id)
        return post

    app.dependency_overrides[post_or_404] = post_then_gone


@pytest.fixture
def comment_vanishes(delete_behind_its_back: Callable[[type[SQLModel], int], None]) -> None:
    """`comment_or_404` finds the comment, and then it is deleted."""

    def comment_then_gone(comment_id: IdPath, session: SessionDep) -> Comment:
        comment = comment_or_404(comment_id, session)
        delete_behind_its_back(Comment, comment_id)
        return comment

    app.dependency_overrides[comment_or_404] = comment_then_gone


@pytest.fixture
def account_vanishes(
    delete_behind_its_back: Callable[[type[SQLModel], int], None],
) -> Callable[[], None]:
    """Call it to make `get_current_user` find the account, which is then deleted (with all it
    wrote); until called, requests run as usual (so a test can set up its data first)."""

    def user_then_gone(
        session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> User:
        user = get_current_user(session, token)
        assert user.id is not None
        delete_behind_its_back(User, user.id)
        return user

    def start() -> None:
        app.dependency_overrides[get_current_user] = user_then_gone

    return start


@pytest.fixture
def ada(racing_client: TestClient) -> Account:
    return register(racing_client, "ada")


@pytest.fixture
def adas_post(racing_client: TestClient, ada: Account) -> dict[str, Any]:
    return create_post(racing_client, ada)


@pytest.fixture
def adas_comment(racing_client: TestClient, ada: Account, adas_post: dict[str, Any]) -> int:
    return int(create_comment(racing_client, ada, adas_post["id"])["id"])


# --- the post or comment is gone: 404 -----------------------------------------------------------


def test_editing_a_post_deleted_meanwhile_is_a_404(
    racing_client: TestClient, ada: Account, adas_post: dict[str, Any], post_vanishes: None
) -> None:
    response = racing_client.patch(
        f"/posts/{adas_post['id']}", headers=ada.headers, json={"title": "new"}
    )
    assert_error(response, 404, "not_found")


def test_deleting_a_post_deleted_meanwhile_is_a_404(
    racing_client: TestClient, ada: Account, adas_post: dict[str, Any], post_vanishes: None
) -> None:
    response = racing_client.delete(f"/posts/{adas_post['id']}", headers=ada.headers)
    assert_error(response, 404, "not_found")


def test_commenting_on_a_post_deleted_meanwhile_is_a_404_and_stores_nothing(
    racing_client: TestClient,
    ada: Account,
    adas_post: dict[str, Any],
    post_vanishes: None,
    engine: Engine,
) -> None:
    response = racing_client.post(
        f"/posts/{adas_post['id']}/comments", headers=ada.headers, json={"body": "late"}
    )
    assert_error(response, 404, "not_found")
    assert count(engine, Comment) == 0


def test_editing_a_comment_deleted_meanwhile_is_a_404(
    racing_client: TestClient, ada: Account, adas_comment: int, comment_vanishes: None
) -> None:
    response = racing_client.patch(
        f"/comments/{adas_comment}", headers=ada.headers, json={"body": "new"}
    )
    assert_error(response, 404, "not_found")


def test_deleting_a_comment_deleted_meanwhile_is_a_404(
    racing_client: TestClient, ada: Account, adas_comment: int, comment_vanishes: None
) -> None:
    assert_error(
        racing_client.delete(f"/comments/{adas_comment}", headers=ada.headers), 404, "not_found"
    )


def test_moderating_a_comment_whose_post_was_deleted_meanwhile_is_a_404(
    racing_client: TestClient,
    ada: Account,
    adas_post: dict[str, Any],
    delete_behind_its_back: Callable[[type[SQLModel], int], None],
) -> None:
    grace = register(racing_client, "grace")
    graces_comment = create_comment(racing_client, grace, adas_post["id"])["id"]

    def comment_then_post_gone(comment_id: IdPath, session: SessionDep) -> Comment:
        comment = comment_or_404(comment_id, session)
        delete_behind_its_back(Post, comment.post_id)
        return comment

    app.dependency_overrides[comment_or_404] = comment_then_post_gone
    response = racing_client.delete(f"/comments/{graces_comment}", headers=ada.headers)
    assert_error(response, 404, "not_found")


# --- the account is gone: 401 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/posts", {"title": "t", "body": "b"}),
        ("POST", "/posts/{post_id}/comments", {"body": "c"}),
        ("PATCH", "/users/me", {"bio": "still here?"}),
        ("POST", "/users/me/password", {"current_password": PASSWORD, "new_password": "n3w pass!"}),
        ("POST", "/auth/logout", None),
        ("DELETE", "/users/me", None),
    ],
)
def test_a_write_by_an_account_deleted_meanwhile_is_a_401_and_stores_nothing(
    racing_client: TestClient,
    ada: Account,
    engine: Engine,
    account_vanishes: Callable[[], None],
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    grace = register(racing_client, "grace")
    graces_post = create_post(racing_client, grace)
    create_post(racing_client, ada)
    account_vanishes()

    response = racing_client.request(
        method, path.format(post_id=graces_post["id"]), headers=ada.headers, json=body
    )

    assert_error(response, 401, "invalid_token")
    # Only grace and her post are left: ada's post went with her account, nothing new was stored.
    assert count(engine, User) == 1
    assert count(engine, Post) == 1
    assert count(engine, Comment) == 0
