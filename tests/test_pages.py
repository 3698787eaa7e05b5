"""Pages at any depth (`blog/pages.py`): `?before=` a post and `?after=` a comment start a page
where the last one ended, and every page names the next one in `next` and the `Link` header,
until the last page, whose `next` is null. Bad positions are 422s.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.helpers import Account, assert_error, create_comment, create_post, register


@pytest.fixture
def post(client: TestClient, user: Account) -> dict[str, Any]:
    """A post by `user` (ada), for its comments."""
    return create_post(client, user)


def next_of(response: Response) -> str | None:
    """The page's `next`, after checking that the `Link` header says the same."""
    assert response.status_code == 200, response.text
    next_url: str | None = response.json()["next"]
    if next_url is None:
        assert "link" not in response.headers
    else:
        assert response.headers["link"] == f'<{next_url}>; rel="next"'
        assert next_url.startswith("/")  # relative: the client's own host and scheme
    return next_url


def follow(client: TestClient, url: str) -> list[list[int]]:
    """The ids of every page from `url` on, following `next` until it is null."""
    pages: list[list[int]] = []
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url)
        pages.append([item["id"] for item in response.json()["items"]])
        next_url = next_of(response)
    return pages


def posts(client: TestClient, author: Account, count: int) -> list[int]:
    return [create_post(client, author, title=f"post {n}")["id"] for n in range(count)]


def test_following_next_visits_every_post_once_newest_first(
    client: TestClient, user: Account
) -> None:
    ids = posts(client, user, 7)
    pages = follow(client, "/posts?limit=3")
    assert pages == [ids[6:3:-1], ids[3:0:-1], ids[0:1]]


def test_next_names_the_position_of_the_last_post_and_keeps_the_other_parameters(
    client: TestClient, user: Account
) -> None:
    ids = posts(client, user, 3)
    response = client.get(f"/posts?limit=2&author_id={user.id}")
    assert next_of(response) == f"/posts?limit=2&author_id={user.id}&before={ids[1]}"


def test_an_offset_page_names_a_keyset_next_page(client: TestClient, user: Account) -> None:
    ids = posts(client, user, 5)
    response = client.get("/posts?limit=2&offset=2")
    assert next_of(response) == f"/posts?limit=2&before={ids[1]}"  # the offset is dropped
    assert [post["id"] for post in client.get(next_of(response) or "").json()["items"]] == [ids[0]]


def test_a_last_page_that_is_exactly_full_has_no_next(client: TestClient, user: Account) -> None:
    posts(client, user, 4)
    assert next_of(client.get("/posts?limit=2&offset=2")) is None
    assert next_of(client.get("/posts?limit=4")) is None
    assert next_of(client.get("/posts?limit=5")) is None


def test_before_a_deleted_post_still_pages_from_where_it_was(
    client: TestClient, user: Account
) -> None:
    ids = posts(client, user, 5)
    assert client.delete(f"/posts/{ids[2]}", headers=user.headers).status_code == 204
    page = client.get(f"/posts?before={ids[2]}").json()
    assert [post["id"] for post in page["items"]] == [ids[1], ids[0]]
    assert page["total"] == 2  # `before` filters like any other parameter: the posts older


def test_before_keeps_the_filters(client: TestClient, user: Account, other_user: Account) -> None:
    mine = [create_post(client, user, title=f"tea {n}")["id"] for n in range(3)]
    create_post(client, other_user, title="tea elsewhere")
    create_post(client, user, title="coffee")
    by_me = client.get(f"/posts?author_id={user.id}&q=tea&before={mine[2]}").json()
    assert [post["id"] for post in by_me["items"]] == [mine[1], mine[0]]


def test_following_next_visits_every_comment_once_oldest_first(
    client: TestClient, user: Account, other_user: Account, post: dict[str, Any]
) -> None:
    ids = [create_comment(client, [user, other_user][n % 2], post["id"])["id"] for n in range(5)]
    pages = follow(client, f"/posts/{post['id']}/comments?limit=2")
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    first = client.get(f"/posts/{post['id']}/comments?limit=2")
    assert next_of(first) == f"/posts/{post['id']}/comments?limit=2&after={ids[1]}"


def test_after_a_deleted_comment_still_pages_from_where_it_was(
    client: TestClient, user: Account, post: dict[str, Any]
) -> None:
    ids = [create_comment(client, user, post["id"])["id"] for _ in range(4)]
    assert client.delete(f"/comments/{ids[1]}", headers=user.headers).status_code == 204
    page = client.get(f"/posts/{post['id']}/comments?after={ids[1]}").json()
    assert [comment["id"] for comment in page["items"]] == ids[2:]


def test_the_users_list_names_its_next_page_by_offset(client: TestClient) -> None:
    for name in ("ada", "grace", "hedy"):
        register(client, name)
    response = client.get("/users?limit=2")
    assert next_of(response) == "/users?limit=2&offset=2"
    assert next_of(client.get("/users?limit=2&offset=2")) is None


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "2147483648", ""])
@pytest.mark.parametrize("parameter", ["before", "after"])
def test_a_position_that_is_not_an_id_is_a_422(
    client: TestClient, post: dict[str, Any], parameter: str, value: str
) -> None:
    path = "/posts" if parameter == "before" else f"/posts/{post['id']}/comments"
    assert_error(client.get(f"{path}?{parameter}={value}"), 422, "validation_error")


@pytest.mark.parametrize("text", ["!!!", "%%%", "😀😀😀", "a_b_c", "ab cd ef", "--- ..."])
def test_a_search_without_3_letters_or_digits_in_a_row_is_a_422(
    client: TestClient, text: str
) -> None:
    response = client.get("/posts", params={"q": text})  # the index has nothing to look up
    assert_error(response, 422, "validation_error")
    assert "3 letters or digits in a row" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("text", ["tea", "日本語", "x y zzz", "100 %", "привет!"])
def test_a_search_with_3_letters_or_digits_in_a_row_is_answered(
    client: TestClient, user: Account, text: str
) -> None:
    create_post(client, user, title=f"About {text}")
    assert client.get("/posts", params={"q": text}).json()["total"] == 1


def test_the_openapi_document_describes_positions_next_and_link(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    lists = {
        "before": document["paths"]["/posts"]["get"],
        "after": document["paths"]["/posts/{post_id}/comments"]["get"],
    }
    for position, operation in lists.items():
        [parameter] = [p for p in operation["parameters"] if p["name"] == position]
        assert parameter["schema"]["anyOf"][0]["minimum"] == 1
        assert "where the last page ended" in parameter["description"]
        assert "Link" in operation["responses"]["200"]["headers"]
    for page in ("PostPage", "CommentPage", "UserPage"):
        schema = document["components"]["schemas"][page]
        assert "next" in schema["required"]
        assert "null on the last page" in schema["properties"]["next"]["description"]
