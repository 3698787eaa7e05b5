"""Comments: every row of the contract, who may edit and who may delete, paging and bad input."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from blog.comments.models import Comment
from tests.helpers import Account, assert_error, create_comment, create_post

COMMENT_FIELDS = {"id", "body", "post_id", "author", "created_at", "updated_at"}


def comment_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Comment)).one()


@pytest.fixture
def post(client: TestClient, user: Account) -> dict[str, object]:
    """A post by `user` (ada)."""
    return create_post(client, user)


# --- create -------------------------------------------------------------------------------------


def test_comment_on_a_post(
    client: TestClient, other_user: Account, post: dict[str, object]
) -> None:
    response = client.post(
        f"/posts/{post['id']}/comments", headers=other_user.headers, json={"body": "  Great!  "}
    )
    assert response.status_code == 201
    comment = response.json()
    assert set(comment) == COMMENT_FIELDS
    assert comment["body"] == "Great!"
    assert comment["post_id"] == post["id"]
    assert comment["author"] == client.get(f"/users/{other_user.id}").json()
    assert comment["created_at"] == comment["updated_at"]


def test_comments_are_counted_on_the_post(
    client: TestClient, user: Account, other_user: Account, post: dict[str, object]
) -> None:
    create_comment(client, other_user, post["id"])  # type: ignore[arg-type]
    create_comment(client, user, post["id"])  # type: ignore[arg-type]
    assert client.get(f"/posts/{post['id']}").json()["comment_count"] == 2
    assert client.get("/posts").json()["items"][0]["comment_count"] == 2


def test_comment_ignores_fields_the_server_owns(
    client: TestClient, session: Session, user: Account, other_user: Account
) -> None:
    first = create_post(client, user, title="first")
    second = create_post(client, user, title="second")
    response = client.post(
        f"/posts/{first['id']}/comments",
        headers=other_user.headers,
        json={
            "body": "hi",
            "id": 500,
            "post_id": second["id"],
            "author_id": user.id,
            "created_at": "2000-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201
    stored = session.get(Comment, response.json()["id"])
    assert stored is not None
    assert (stored.post_id, stored.author_id) == (first["id"], other_user.id)
    assert stored.id != 500
    assert stored.created_at.year == datetime.now(UTC).year


def test_comment_requires_a_token(
    client: TestClient, session: Session, post: dict[str, object]
) -> None:
    response = client.post(f"/posts/{post['id']}/comments", json={"body": "hi"})
    assert_error(response, 401, "not_authenticated")
    assert comment_count(session) == 0


def test_comment_on_a_missing_post_is_a_404(
    client: TestClient, session: Session, user: Account
) -> None:
    response = client.post("/posts/999/comments", headers=user.headers, json={"body": "hi"})
    assert_error(response, 404, "not_found")
    assert comment_count(session) == 0


@pytest.mark.parametrize(
    "payload",
    [{"body": ""}, {"body": " \n "}, {"body": "c" * 2001}, {}, {"body": None}, {"body": 3}],
)
def test_comment_rejects_bad_input_and_writes_nothing(
    client: TestClient,
    session: Session,
    user: Account,
    post: dict[str, object],
    payload: dict[str, object],
) -> None:
    response = client.post(f"/posts/{post['id']}/comments", headers=user.headers, json=payload)
    assert_error(response, 422, "validation_error")
    assert comment_count(session) == 0


def test_the_longest_comment_is_accepted(
    client: TestClient, user: Account, post: dict[str, object]
) -> None:
    assert len(create_comment(client, user, post["id"], body="c" * 2000)["body"]) == 2000  # type: ignore[arg-type]


# --- read and list ------------------------------------------------------------------------------


def test_list_comments_oldest_first(
    client: TestClient, user: Account, other_user: Account, post: dict[str, object]
) -> None:
    bodies = [f"comment {index}" for index in range(3)]
    for index, body in enumerate(bodies):
        create_comment(client, [user, other_user][index % 2], post["id"], body=body)  # type: ignore[arg-type]
    page = client.get(f"/posts/{post['id']}/comments").json()
    assert [comment["body"] for comment in page["items"]] == bodies
    assert (page["total"], page["limit"], page["offset"]) == (3, 20, 0)


def test_list_comments_only_shows_that_posts_comments(
    client: TestClient, user: Account, post: dict[str, object]
) -> None:
    other_post = create_post(client, user, title="other")
    create_comment(client, user, other_post["id"], body="elsewhere")
    create_comment(client, user, post["id"], body="here")  # type: ignore[arg-type]
    page = client.get(f"/posts/{post['id']}/comments").json()
    assert [comment["body"] for comment in page["items"]] == ["here"]
    assert page["total"] == 1


def test_comments_at_the_same_instant_page_without_repeats_or_gaps(
    client: TestClient, session: Session, user: Account, post: dict[str, object]
) -> None:
    ids = [create_comment(client, user, post["id"])["id"] for _ in range(5)]  # type: ignore[arg-type]
    for comment in session.exec(select(Comment)).all():
        comment.created_at = datetime(2026, 5, 1, tzinfo=UTC)
        session.add(comment)
    session.commit()
    seen = []
    for offset in (0, 2, 4):
        page = client.get(f"/posts/{post['id']}/comments?limit=2&offset={offset}").json()
        seen += [comment["id"] for comment in page["items"]]
    assert seen == sorted(ids)


def test_list_comments_of_a_missing_post_is_a_404(client: TestClient) -> None:
    assert_error(client.get("/posts/999/comments"), 404, "not_found")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=x"])
def test_list_comments_rejects_bad_paging(
    client: TestClient, post: dict[str, object], query: str
) -> None:
    assert_error(client.get(f"/posts/{post['id']}/comments?{query}"), 422, "validation_error")


def test_read_comment(client: TestClient, user: Account, post: dict[str, object]) -> None:
    comment = create_comment(client, user, post["id"])  # type: ignore[arg-type]
    response = client.get(f"/comments/{comment['id']}")
    assert response.status_code == 200
    assert response.json() == comment


def test_read_a_missing_comment_is_a_404(client: TestClient) -> None:
    assert_error(client.get("/comments/999"), 404, "not_found")


@pytest.mark.parametrize("comment_id", ["abc", "0", "99999999999"])
def test_read_a_comment_with_an_impossible_id_is_a_422(client: TestClient, comment_id: str) -> None:
    assert_error(client.get(f"/comments/{comment_id}"), 422, "validation_error")


# --- edit ---------------------------------------------------------------------------------------


@pytest.fixture
def comment_by_grace(
    client: TestClient, other_user: Account, post: dict[str, object]
) -> dict[str, object]:
    """A comment by `other_user` (grace) on ada's post."""
    return create_comment(client, other_user, post["id"], body="Original.")  # type: ignore[arg-type]


def test_author_edits_comment_and_updated_at_moves(
    client: TestClient, other_user: Account, comment_by_grace: dict[str, object]
) -> None:
    response = client.patch(
        f"/comments/{comment_by_grace['id']}", headers=other_user.headers, json={"body": " Edited "}
    )
    assert response.status_code == 200
    edited = response.json()
    assert edited["body"] == "Edited"
    assert edited["created_at"] == comment_by_grace["created_at"]
    assert edited["updated_at"] > comment_by_grace["updated_at"]


def test_an_empty_comment_edit_changes_nothing(
    client: TestClient, other_user: Account, comment_by_grace: dict[str, object]
) -> None:
    response = client.patch(
        f"/comments/{comment_by_grace['id']}", headers=other_user.headers, json={}
    )
    assert response.status_code == 200
    assert response.json() == comment_by_grace


def test_the_posts_author_cannot_edit_someone_elses_comment(
    client: TestClient, user: Account, comment_by_grace: dict[str, object]
) -> None:
    response = client.patch(
        f"/comments/{comment_by_grace['id']}", headers=user.headers, json={"body": "Rewritten"}
    )
    assert_error(response, 403, "forbidden")
    assert client.get(f"/comments/{comment_by_grace['id']}").json()["body"] == "Original."


def test_edit_comment_requires_a_token(
    client: TestClient, comment_by_grace: dict[str, object]
) -> None:
    response = client.patch(f"/comments/{comment_by_grace['id']}", json={"body": "x"})
    assert_error(response, 401, "not_authenticated")


def test_edit_a_missing_comment_is_a_404(client: TestClient, user: Account) -> None:
    assert_error(
        client.patch("/comments/999", headers=user.headers, json={"body": "x"}), 404, "not_found"
    )


@pytest.mark.parametrize(
    "payload", [{"body": ""}, {"body": "  "}, {"body": None}, {"body": "c" * 2001}]
)
def test_edit_comment_rejects_bad_input_and_changes_nothing(
    client: TestClient,
    other_user: Account,
    comment_by_grace: dict[str, object],
    payload: dict[str, object],
) -> None:
    response = client.patch(
        f"/comments/{comment_by_grace['id']}", headers=other_user.headers, json=payload
    )
    assert_error(response, 422, "validation_error")
    assert client.get(f"/comments/{comment_by_grace['id']}").json() == comment_by_grace


def test_edit_comment_ignores_fields_the_server_owns(
    client: TestClient, user: Account, other_user: Account, comment_by_grace: dict[str, object]
) -> None:
    response = client.patch(
        f"/comments/{comment_by_grace['id']}",
        headers=other_user.headers,
        json={"post_id": 999, "author_id": user.id},
    )
    assert response.status_code == 200
    assert response.json()["post_id"] == comment_by_grace["post_id"]
    assert response.json()["author"]["id"] == other_user.id


# --- delete -------------------------------------------------------------------------------------


def test_comment_author_deletes_comment(
    client: TestClient, session: Session, other_user: Account, comment_by_grace: dict[str, object]
) -> None:
    response = client.delete(f"/comments/{comment_by_grace['id']}", headers=other_user.headers)
    assert response.status_code == 204
    assert session.get(Comment, comment_by_grace["id"]) is None


def test_post_author_deletes_someone_elses_comment_on_their_post(
    client: TestClient, session: Session, user: Account, comment_by_grace: dict[str, object]
) -> None:
    response = client.delete(f"/comments/{comment_by_grace['id']}", headers=user.headers)
    assert response.status_code == 204
    assert session.get(Comment, comment_by_grace["id"]) is None


def test_a_third_user_cannot_delete_a_comment(
    client: TestClient,
    session: Session,
    third_user: Account,
    comment_by_grace: dict[str, object],
) -> None:
    response = client.delete(f"/comments/{comment_by_grace['id']}", headers=third_user.headers)
    assert_error(response, 403, "forbidden")
    assert session.get(Comment, comment_by_grace["id"]) is not None


def test_delete_comment_requires_a_token(
    client: TestClient, comment_by_grace: dict[str, object]
) -> None:
    assert_error(client.delete(f"/comments/{comment_by_grace['id']}"), 401, "not_authenticated")


def test_delete_a_missing_comment_is_a_404(client: TestClient, user: Account) -> None:
    assert_error(client.delete("/comments/999", headers=user.headers), 404, "not_found")
