"""Your own account (`/users/me`) and everyone's public profiles (`/users`)."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from blog.users.models import User
from tests.helpers import PASSWORD, Account, assert_error, register
from tests.test_auth import get_me
from tests.test_passwords import refusal

PUBLIC_FIELDS = {"id", "username", "bio", "created_at"}


def test_me_returns_the_private_profile(client: TestClient, user: Account) -> None:
    response = client.get("/users/me", headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_FIELDS | {"email", "is_active"}
    assert body["email"] == user.email
    assert body["username"] == user.username
    assert body["is_active"] is True
    assert body["bio"] == ""
    assert body["created_at"].endswith(("Z", "+00:00"))


def test_update_me_changes_only_the_fields_sent(
    client: TestClient, session: Session, user: Account
) -> None:
    response = client.patch("/users/me", headers=user.headers, json={"bio": "  I write code.  "})
    assert response.status_code == 200
    body = response.json()
    assert body["bio"] == "I write code."  # trimmed
    assert body["username"] == user.username
    stored = session.get(User, user.id)
    assert stored is not None and stored.bio == "I write code."


def test_update_me_changes_username_and_email(client: TestClient, user: Account) -> None:
    response = client.patch(
        "/users/me",
        headers=user.headers,
        json={
            "username": "Countess",
            "email": "Countess@Example.com",
            "current_password": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert response.json()["username"] == "Countess"
    assert response.json()["email"] == "countess@example.com"
    login = client.post("/auth/login", data={"username": "countess", "password": PASSWORD})
    assert login.status_code == 200


def test_update_me_may_change_the_case_of_your_own_username(
    client: TestClient, user: Account
) -> None:
    response = client.patch("/users/me", headers=user.headers, json={"username": "ADA"})
    assert response.status_code == 200
    assert response.json()["username"] == "ADA"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"email": "GRACE@example.com", "current_password": PASSWORD}, "email_taken"),
        ({"username": "Grace"}, "username_taken"),
    ],
)
def test_update_me_to_someone_elses_email_or_username_is_a_conflict(
    client: TestClient,
    session: Session,
    user: Account,
    other_user: Account,
    change: dict[str, str],
    code: str,
) -> None:
    assert_error(client.patch("/users/me", headers=user.headers, json=change), 409, code)
    stored = session.get(User, user.id)
    assert stored is not None
    assert (stored.email, stored.username) == (user.email, user.username)


def test_update_me_ignores_fields_a_user_may_not_set(
    client: TestClient, session: Session, user: Account
) -> None:
    response = client.patch(
        "/users/me",
        headers=user.headers,
        json={"id": 999, "is_active": False, "password_hash": "x", "created_at": "2000-01-01"},
    )
    assert response.status_code == 200
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.is_active is True
    assert stored.password_hash.startswith("$2b$")
    assert stored.created_at.year > 2000


@pytest.mark.parametrize(
    "change",
    [
        {"username": None},
        {"email": None},
        {"bio": None},
        {"username": "x"},
        {"username": "bad name"},
        {"email": "nope"},
        {"bio": "b" * 501},
        {"bio": 42},
    ],
)
def test_update_me_rejects_invalid_values_and_changes_nothing(
    client: TestClient, session: Session, user: Account, change: dict[str, object]
) -> None:
    assert_error(
        client.patch("/users/me", headers=user.headers, json=change), 422, "validation_error"
    )
    stored = session.get(User, user.id)
    assert stored is not None
    assert (stored.email, stored.username, stored.bio) == (user.email, user.username, "")


def test_a_bio_of_exactly_500_characters_is_accepted(client: TestClient, user: Account) -> None:
    response = client.patch("/users/me", headers=user.headers, json={"bio": "b" * 500})
    assert response.status_code == 200


def test_update_me_requires_a_token(client: TestClient) -> None:
    assert_error(client.patch("/users/me", json={"bio": "hi"}), 401, "not_authenticated")


# --- password -----------------------------------------------------------------------------------


def change_password(client: TestClient, user: Account, current: str, new: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/users/me/password",
        headers=user.headers,
        json={"current_password": current, "new_password": new},
    )


def test_change_password_then_only_the_new_one_logs_in(client: TestClient, user: Account) -> None:
    response = change_password(client, user, PASSWORD, "a brand new secret")
    assert response.status_code == 204
    assert response.content == b""
    old = client.post("/auth/login", data={"username": user.email, "password": PASSWORD})
    new = client.post(
        "/auth/login", data={"username": user.email, "password": "a brand new secret"}
    )
    assert_error(old, 400, "invalid_credentials")
    assert new.status_code == 200


@pytest.mark.parametrize("current", ["not my password", "a" * 73])
def test_change_password_with_a_wrong_current_password_is_refused(
    client: TestClient, session: Session, user: Account, current: str
) -> None:
    before = session.get(User, user.id)
    assert before is not None
    old_hash = before.password_hash
    assert_error(
        change_password(client, user, current, "a brand new secret"), 400, "wrong_password"
    )
    session.expire_all()
    after = session.get(User, user.id)
    assert after is not None and after.password_hash == old_hash


@pytest.mark.parametrize("new", ["short", "a" * 73, "€" * 25])
def test_change_password_to_an_invalid_password_is_a_422(
    client: TestClient, user: Account, new: str
) -> None:
    assert_error(change_password(client, user, PASSWORD, new), 422, "validation_error")
    login = client.post("/auth/login", data={"username": user.email, "password": PASSWORD})
    assert login.status_code == 200


def test_change_password_requires_a_token(client: TestClient) -> None:
    response = client.post(
        "/users/me/password", json={"current_password": PASSWORD, "new_password": "x" * 10}
    )
    assert_error(response, 401, "not_authenticated")


# --- delete -------------------------------------------------------------------------------------


def test_delete_me_removes_the_account(client: TestClient, session: Session, user: Account) -> None:
    response = client.delete("/users/me", headers=user.headers)
    assert response.status_code == 204
    assert session.get(User, user.id) is None
    assert_error(client.get(f"/users/{user.id}"), 404, "not_found")
    login = client.post("/auth/login", data={"username": user.email, "password": PASSWORD})
    assert_error(login, 400, "invalid_credentials")


def test_delete_me_frees_the_email_and_username(client: TestClient, user: Account) -> None:
    client.delete("/users/me", headers=user.headers)
    assert register(client, user.username, email=user.email).id > 0


def test_delete_me_requires_a_token(client: TestClient) -> None:
    assert_error(client.delete("/users/me"), 401, "not_authenticated")


# --- public profiles ----------------------------------------------------------------------------


def test_read_user_returns_the_public_profile_only(
    client: TestClient, user: Account, other_user: Account
) -> None:
    response = client.get(f"/users/{user.id}", headers=other_user.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["username"] == user.username
    assert user.email not in response.text


def test_read_user_that_does_not_exist_is_a_404(client: TestClient) -> None:
    assert_error(client.get("/users/12345"), 404, "not_found")


@pytest.mark.parametrize("user_id", ["abc", "1.5", "0", "-1", "2147483648", "9" * 30])
def test_read_user_with_an_id_that_cannot_exist_is_a_422(client: TestClient, user_id: str) -> None:
    assert_error(client.get(f"/users/{user_id}"), 422, "validation_error")


def test_list_users_is_a_page_of_public_profiles_oldest_first(client: TestClient) -> None:
    accounts = [register(client, f"user_{index}") for index in range(3)]
    response = client.get("/users")
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 3
    assert (page["limit"], page["offset"]) == (20, 0)
    assert [item["id"] for item in page["items"]] == [account.id for account in accounts]
    assert all(set(item) == PUBLIC_FIELDS for item in page["items"])


def test_list_users_pages_never_repeat_or_skip(client: TestClient) -> None:
    ids = [register(client, f"user_{index}").id for index in range(5)]
    pages = [client.get(f"/users?limit=2&offset={offset}").json() for offset in (0, 2, 4)]
    assert [item["id"] for page in pages for item in page["items"]] == ids
    assert all(page["total"] == 5 for page in pages)
    assert client.get("/users?offset=10").json()["items"] == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=-5", "offset=-1", "limit=abc", "offset=1.5"]
)
def test_list_users_rejects_out_of_range_paging(client: TestClient, query: str) -> None:
    assert_error(client.get(f"/users?{query}"), 422, "validation_error")


def test_list_users_accepts_the_largest_page(client: TestClient) -> None:
    assert client.get("/users?limit=100").json()["limit"] == 100


def test_the_token_of_a_deleted_user_is_rejected(client: TestClient, user: Account) -> None:
    assert client.delete("/users/me", headers=user.headers).status_code == 204
    assert_error(get_me(client, user.token), 401, "invalid_token")


def test_a_wrong_method_names_every_method_the_path_has(client: TestClient) -> None:
    response = client.put("/users/me")  # three routes share this path
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "DELETE, GET, PATCH"


def test_changing_the_password_follows_the_rules(client: TestClient, user: Account) -> None:
    for new_password, says in [
        ("password1", "most common"),
        ("ada@example.com", "username or your email"),
        ("ADA", "8 to 72 bytes"),
    ]:
        response = client.post(
            "/users/me/password",
            headers=user.headers,
            json={"current_password": user.password, "new_password": new_password},
        )
        assert says in refusal(response, "new_password")
    # Refused changes changed nothing: the token and the old password still work.
    assert client.get("/users/me", headers=user.headers).status_code == 200


def test_a_new_email_needs_the_current_password(
    client: TestClient, user: Account, session: Session
) -> None:
    assert_error(change_email(client, user), 400, "wrong_password")
    assert_error(
        change_email(client, user, current_password="wrong password"), 400, "wrong_password"
    )
    stored = session.get(User, user.id)
    assert stored is not None and stored.email == user.email  # nothing changed
    response = change_email(client, user, current_password=user.password)
    assert response.status_code == 200
    assert response.json()["email"] == "new@example.com"
    assert "current_password" not in response.json()


def test_a_taken_email_is_not_revealed_without_the_password(
    client: TestClient, user: Account, other_user: Account
) -> None:
    body = {"email": other_user.email}
    assert_error(client.patch("/users/me", headers=user.headers, json=body), 400, "wrong_password")


def test_username_bio_and_the_same_email_need_no_password(
    client: TestClient, user: Account
) -> None:
    for change in (
        {"username": "countess"},
        {"bio": "Notes on the engine."},
        {"email": user.email},
    ):
        response = client.patch("/users/me", headers=user.headers, json=change)
        assert response.status_code == 200, change


def change_email(client: TestClient, user: Account, **extra: str) -> Any:
    body = {"email": "new@example.com", **extra}
    return client.patch("/users/me", headers=user.headers, json=body)
