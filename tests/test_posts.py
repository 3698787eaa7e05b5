"""Posts: every row of the contract, the ownership matrix, filters, paging and bad input."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from blog import pagination
from blog.posts.models import Post
from tests.helpers import Account, assert_error, create_post

POST_FIELDS = {"id", "title", "body", "author", "comment_count", "created_at", "updated_at"}


def post_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Post)).one()


# --- create -------------------------------------------------------------------------------------


def test_create_post_returns_it_with_its_author(client: TestClient, user: Account) -> None:
    response = client.post(
        "/posts", headers=user.headers, json={"title": "  Hello  ", "body": "\nFirst post.\n"}
    )
    assert response.status_code == 201
    post = response.json()
    assert set(post) == POST_FIELDS
    assert (post["title"], post["body"]) == ("Hello", "First post.")  # trimmed
    assert post["author"] == client.get(f"/users/{user.id}").json()
    assert post["comment_count"] == 0
    assert post["created_at"] == post["updated_at"]


def test_create_post_ignores_fields_the_server_owns(
    client: TestClient, session: Session, user: Account, other_user: Account
) -> None:
    response = client.post(
        "/posts",
        headers=user.headers,
        json={
            "title": "Mine",
            "body": "Really.",
            "id": 999,
            "author_id": other_user.id,
            "comment_count": 50,
            "created_at": "2000-01-01T00:00:00Z",
            "updated_at": "2000-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201
    post = response.json()
    assert post["id"] != 999
    assert post["author"]["id"] == user.id
    assert post["comment_count"] == 0
    stored = session.get(Post, post["id"])
    assert stored is not None
    assert stored.author_id == user.id
    assert stored.created_at.year == datetime.now(UTC).year


def test_create_post_requires_a_token(client: TestClient, session: Session) -> None:
    assert_error(client.post("/posts", json={"title": "t", "body": "b"}), 401, "not_authenticated")
    assert post_count(session) == 0


def test_create_post_with_a_bad_token_is_refused(client: TestClient, session: Session) -> None:
    response = client.post(
        "/posts", headers={"Authorization": "Bearer nope"}, json={"title": "t", "body": "b"}
    )
    assert_error(response, 401, "invalid_token")
    assert post_count(session) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "", "body": "b"},
        {"title": "   ", "body": "b"},
        {"title": "t" * 201, "body": "b"},
        {"title": "t", "body": ""},
        {"title": "t", "body": " \n\t "},
        {"title": "t", "body": "b" * 20_001},
        {"title": "t"},
        {"body": "b"},
        {"title": None, "body": "b"},
        {"title": ["t"], "body": "b"},
        {"title": "t", "body": 5},
    ],
)
def test_create_post_rejects_bad_input_and_writes_nothing(
    client: TestClient, session: Session, user: Account, payload: dict[str, object]
) -> None:
    assert_error(client.post("/posts", headers=user.headers, json=payload), 422, "validation_error")
    assert post_count(session) == 0


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "String should have at least 1 character"),
        ("t" * 201, "String should have at most 200 characters"),
        (" \u3000\ufeff ", "Value error, must contain a visible character, not only spaces"),
        ("a\x00b", "Value error, must not contain the NUL character"),
        # The limit counts the characters as sent, spaces at the ends included.
        (" " + "t" * 200, "String should have at most 200 characters"),
    ],
)
def test_a_refused_title_says_why_in_characters(
    client: TestClient, user: Account, title: str, message: str
) -> None:
    response = client.post("/posts", headers=user.headers, json={"title": title, "body": "b"})
    assert_error(response, 422, "validation_error")
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["msg"]) == (["body", "title"], message)


def test_a_character_python_calls_a_space_but_javascript_does_not_is_kept(
    client: TestClient, user: Account
) -> None:
    """U+001E: the schema's `\\s` (JavaScript's) is not it, so neither is the app's trimming."""
    assert create_post(client, user, title="\x1e")["title"] == "\x1e"


def test_the_longest_title_and_body_are_accepted(client: TestClient, user: Account) -> None:
    post = create_post(client, user, title="t" * 200, body="b" * 20_000)
    assert (len(post["title"]), len(post["body"])) == (200, 20_000)


def test_create_post_with_malformed_json_is_a_422(
    client: TestClient, session: Session, user: Account
) -> None:
    response = client.post(
        "/posts",
        headers={**user.headers, "Content-Type": "application/json"},
        content=b'{"title": "t", "body": ',
    )
    assert_error(response, 422, "validation_error")
    assert post_count(session) == 0


# --- read and list ------------------------------------------------------------------------------


def test_read_post(client: TestClient, user: Account) -> None:
    post = create_post(client, user)
    response = client.get(f"/posts/{post['id']}")
    assert response.status_code == 200
    assert response.json() == post


def test_read_a_post_that_does_not_exist_is_a_404(client: TestClient) -> None:
    assert_error(client.get("/posts/4242"), 404, "not_found")


@pytest.mark.parametrize("post_id", ["abc", "0", "-3", "1e3", "2147483648"])
def test_read_a_post_with_an_impossible_id_is_a_422(client: TestClient, post_id: str) -> None:
    assert_error(client.get(f"/posts/{post_id}"), 422, "validation_error")


def test_list_posts_newest_first(client: TestClient, user: Account) -> None:
    titles = [create_post(client, user, title=f"post {index}")["title"] for index in range(3)]
    page = client.get("/posts").json()
    assert [post["title"] for post in page["items"]] == list(reversed(titles))
    assert (page["total"], page["limit"], page["offset"]) == (3, 20, 0)


def test_posts_written_at_the_same_instant_page_without_repeats_or_gaps(
    client: TestClient, session: Session, user: Account
) -> None:
    ids = [create_post(client, user, title=f"post {index}")["id"] for index in range(7)]
    same_instant = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    for post in session.exec(select(Post)).all():
        post.created_at = same_instant
        session.add(post)
    session.commit()
    seen = []
    for offset in range(0, 7, 3):
        page = client.get(f"/posts?limit=3&offset={offset}").json()
        seen += [post["id"] for post in page["items"]]
    assert seen == sorted(ids, reverse=True)  # the id breaks the tie, newest first


def test_list_posts_by_author(client: TestClient, user: Account, other_user: Account) -> None:
    create_post(client, user, title="by ada")
    create_post(client, other_user, title="by grace")
    page = client.get(f"/posts?author_id={other_user.id}").json()
    assert [post["title"] for post in page["items"]] == ["by grace"]
    assert page["total"] == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("python", {"Python tips", "On snakes"}),  # title or body, any case
        ("PYTHON", {"Python tips", "On snakes"}),
        ("tips", {"Python tips"}),
        ("100%", {"Percentages"}),  # % is literal text, not a wildcard
        ("ake_cas", {"Underscores"}),  # _ is literal text too, not any character
        ("  tips  ", {"Python tips"}),  # the spaces at its ends are trimmed
        ("nothing matches this", set()),
    ],
)
def test_search_posts_by_text(
    client: TestClient, user: Account, query: str, expected: set[str]
) -> None:
    create_post(client, user, title="Python tips", body="Use a virtual environment.")
    create_post(client, user, title="On snakes", body="Not the python kind? Yes, Python.")
    create_post(client, user, title="Percentages", body="Give 100% of the time.")
    create_post(client, user, title="Underscores", body="snake_case.")
    create_post(client, user, title="Lookalike", body="snakeXcase.")
    page = client.get("/posts", params={"q": query}).json()
    assert {post["title"] for post in page["items"]} == expected
    assert page["total"] == len(expected)


def test_search_and_author_filters_combine(
    client: TestClient, user: Account, other_user: Account
) -> None:
    create_post(client, user, title="Python by ada")
    create_post(client, other_user, title="Python by grace")
    page = client.get("/posts", params={"q": "python", "author_id": user.id}).json()
    assert [post["title"] for post in page["items"]] == ["Python by ada"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "offset=-1",
        "author_id=0",
        "author_id=abc",
        f"q={'x' * 201}",
        "q=",  # a search needs 3 characters: fewer cannot use an index of text
        "q=ab",
        "q=%20%20%20%20",
        "q=%20ab%20",  # 2, once trimmed
    ],
)
def test_list_posts_rejects_bad_parameters(client: TestClient, query: str) -> None:
    assert_error(client.get(f"/posts?{query}"), 422, "validation_error")


# --- update -------------------------------------------------------------------------------------


def test_author_updates_post_and_updated_at_moves(client: TestClient, user: Account) -> None:
    post = create_post(client, user, title="Before", body="Unchanged.")
    response = client.patch(f"/posts/{post['id']}", headers=user.headers, json={"title": " After "})
    assert response.status_code == 200
    updated = response.json()
    assert (updated["title"], updated["body"]) == ("After", "Unchanged.")
    assert updated["created_at"] == post["created_at"]
    assert updated["updated_at"] > post["updated_at"]
    assert client.get(f"/posts/{post['id']}").json() == updated


def test_an_empty_update_changes_nothing(client: TestClient, user: Account) -> None:
    post = create_post(client, user)
    response = client.patch(f"/posts/{post['id']}", headers=user.headers, json={})
    assert response.status_code == 200
    assert response.json() == post  # updated_at included


def test_update_post_ignores_fields_the_server_owns(
    client: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    response = client.patch(
        f"/posts/{post['id']}",
        headers=user.headers,
        json={"author_id": other_user.id, "id": 77, "comment_count": 9, "created_at": "2000-01-01"},
    )
    assert response.status_code == 200
    updated = response.json()
    assert (updated["id"], updated["author"]["id"], updated["comment_count"]) == (
        post["id"],
        user.id,
        0,
    )
    assert updated["created_at"] == post["created_at"]


def test_another_user_cannot_update_a_post(
    client: TestClient, user: Account, other_user: Account
) -> None:
    post = create_post(client, user, title="Mine")
    response = client.patch(f"/posts/{post['id']}", headers=other_user.headers, json={"title": "X"})
    assert_error(response, 403, "forbidden")
    assert client.get(f"/posts/{post['id']}").json()["title"] == "Mine"


def test_update_post_requires_a_token(client: TestClient, user: Account) -> None:
    post = create_post(client, user)
    assert_error(
        client.patch(f"/posts/{post['id']}", json={"title": "X"}), 401, "not_authenticated"
    )


def test_update_a_missing_post_is_a_404(client: TestClient, user: Account) -> None:
    assert_error(
        client.patch("/posts/999", headers=user.headers, json={"title": "X"}), 404, "not_found"
    )


def test_authentication_is_checked_before_existence(client: TestClient) -> None:
    assert_error(client.patch("/posts/999", json={"title": "X"}), 401, "not_authenticated")
    assert_error(client.delete("/posts/999"), 401, "not_authenticated")


def test_the_checks_answer_in_order_401_then_404_then_403_then_422(
    client: TestClient, user: Account, other_user: Account
) -> None:
    """The order docs/auth.md draws: each request fails every check after the one it reaches."""
    post = create_post(client, other_user)
    bad_body = {"title": ""}
    assert_error(client.patch(f"/posts/{post['id']}", json=bad_body), 401, "not_authenticated")
    forged = {"Authorization": "Bearer forged"}
    assert_error(client.patch("/posts/999", headers=forged, json=bad_body), 401, "invalid_token")
    assert_error(client.patch("/posts/999", headers=user.headers, json=bad_body), 404, "not_found")
    mine_not = client.patch(f"/posts/{post['id']}", headers=user.headers, json=bad_body)
    assert_error(mine_not, 403, "forbidden")
    own = client.patch(f"/posts/{post['id']}", headers=other_user.headers, json=bad_body)
    assert_error(own, 422, "validation_error")


@pytest.mark.parametrize(
    "payload",
    [
        {"title": ""},
        {"title": "  "},
        {"title": None},
        {"body": None},
        {"body": "b" * 20_001},
        {"title": 1},
    ],
)
def test_update_post_rejects_bad_input_and_changes_nothing(
    client: TestClient, user: Account, payload: dict[str, object]
) -> None:
    post = create_post(client, user)
    response = client.patch(f"/posts/{post['id']}", headers=user.headers, json=payload)
    assert_error(response, 422, "validation_error")
    assert client.get(f"/posts/{post['id']}").json() == post


# --- delete -------------------------------------------------------------------------------------


def test_author_deletes_post(client: TestClient, session: Session, user: Account) -> None:
    post = create_post(client, user)
    response = client.delete(f"/posts/{post['id']}", headers=user.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert session.get(Post, post["id"]) is None
    assert_error(client.get(f"/posts/{post['id']}"), 404, "not_found")


def test_another_user_cannot_delete_a_post(
    client: TestClient, session: Session, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    assert_error(
        client.delete(f"/posts/{post['id']}", headers=other_user.headers), 403, "forbidden"
    )
    assert session.get(Post, post["id"]) is not None


def test_delete_post_requires_a_token(client: TestClient, user: Account) -> None:
    post = create_post(client, user)
    assert_error(client.delete(f"/posts/{post['id']}"), 401, "not_authenticated")


def test_delete_a_missing_post_is_a_404(client: TestClient, user: Account) -> None:
    assert_error(client.delete("/posts/999", headers=user.headers), 404, "not_found")


def test_total_counts_no_further_than_the_cap(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(5):
        create_post(client, user, title=f"Post {index}")
    monkeypatch.setattr(pagination, "TOTAL_CAP", 3)
    page = client.get("/posts").json()
    assert (page["total"], len(page["items"])) == (3, 5)  # 3 means "3 or more"
    monkeypatch.setattr(pagination, "TOTAL_CAP", 10)
    assert client.get("/posts").json()["total"] == 5  # exact below the cap


@pytest.mark.parametrize("offset", [0, 2, 4, 5, 6, 100])
def test_every_page_says_the_same_total(client: TestClient, user: Account, offset: int) -> None:
    """A full page counts; a page that is not full knows the total from where it ends; a page
    past the end counts again. All say the same."""
    for index in range(5):
        create_post(client, user, title=f"Post {index}")
    page = client.get("/posts", params={"limit": 2, "offset": offset}).json()
    assert page["total"] == 5
    assert len(page["items"]) == max(0, min(2, 5 - offset))
