"""Exercise (lesson 11, comments): a filter.

Copy this file into your `tests/`, then make it pass: `GET /posts/{post_id}/comments?author_id=N`
lists only that author's comments on the post (still oldest first, `total` counting only them);
an `author_id` below 1 is a 422. One way: an optional query parameter on `list_comments` in
`blog/comments/router.py`, as `list_posts` has one.
"""

from fastapi.testclient import TestClient

from tests.helpers import Account, assert_error, create_comment, create_post


def test_the_comments_of_one_author(client: TestClient, user: Account, other_user: Account) -> None:
    post = create_post(client, user)
    mine = create_comment(client, user, post["id"], body="Thanks!")
    create_comment(client, other_user, post["id"], body="Nice.")
    later = create_comment(client, user, post["id"], body="Also: thanks.")
    url = f"/posts/{post['id']}/comments"
    page = client.get(url, params={"author_id": user.id}).json()
    assert [comment["id"] for comment in page["items"]] == [mine["id"], later["id"]]
    assert page["total"] == 2
    assert client.get(url).json()["total"] == 3


def test_an_author_id_below_one_is_a_422(client: TestClient, user: Account) -> None:
    post = create_post(client, user)
    response = client.get(f"/posts/{post['id']}/comments", params={"author_id": 0})
    assert_error(response, 422, "validation_error")
