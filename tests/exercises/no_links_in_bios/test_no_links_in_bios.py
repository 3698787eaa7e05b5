"""Exercise (lesson 7, your own account): a `PATCH` rule.

Copy this file into your `tests/`, then make it pass: `PATCH /users/me` refuses a bio that holds
a link (`http://` or `https://`, in any case) with a 422 `validation_error` on the `bio` field, and
stores nothing. One way: one more `AfterValidator` on the `Bio` type in `blog/users/models.py`.
"""

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Account, assert_error


@pytest.mark.parametrize("bio", ["see https://spam.example", "HTTP://SPAM.EXAMPLE", "http://x"])
def test_a_bio_with_a_link_is_refused_and_nothing_changes(
    client: TestClient, user: Account, bio: str
) -> None:
    response = client.patch("/users/me", headers=user.headers, json={"bio": bio})
    assert_error(response, 422, "validation_error")
    assert {tuple(problem["loc"][:2]) for problem in response.json()["detail"]} == {("body", "bio")}
    assert client.get("/users/me", headers=user.headers).json()["bio"] == ""


def test_a_bio_that_only_mentions_the_web_is_fine(client: TestClient, user: Account) -> None:
    response = client.patch("/users/me", headers=user.headers, json={"bio": "I like http."})
    assert response.status_code == 200
    assert response.json()["bio"] == "I like http."
