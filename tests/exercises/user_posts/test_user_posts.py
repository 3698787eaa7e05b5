"""Exercise (lesson 10, posts): a new route.

Copy this file into your `tests/`, then make it pass: `GET /users/{user_id}/posts` is a page of
that user's posts, newest first, shaped like `GET /posts` (`items`, `total`, `limit`, `offset`),
and a 404 `not_found` for a user who does not exist. One way: a route in `blog/users/router.py`
that checks the user, then runs the same query as `list_posts` with a `where`.
"""

from fastapi.testclient import TestClient

from tests.helpers import Account, assert_error, create_post


def test_a_users_posts_are_a_page_newest_first(
    client: TestClient, user: Account, other_user: Account
) -> None:
    first = create_post(client, user, title="First")
    second = create_post(client, user, title="Second")
    create_post(client, other_user, title="Someone else's")
    page = client.get(f"/users/{user.id}/posts").json()
    assert [post["id"] for post in page["items"]] == [second["id"], first["id"]]
    assert (page["total"], page["offset"]) == (2, 0)


def test_the_page_size_is_the_clients(client: TestClient, user: Account) -> None:
    for number in range(3):
        create_post(client, user, title=f"Post {number}")
    page = client.get(f"/users/{user.id}/posts", params={"limit": 2}).json()
    assert (len(page["items"]), page["total"], page["limit"]) == (2, 3, 2)


def test_the_posts_of_nobody_are_a_404(client: TestClient) -> None:
    assert_error(client.get("/users/999999/posts"), 404, "not_found")
