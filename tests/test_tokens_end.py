"""Tokens that end: logout, a password change and a deleted account end every token of the
account, ids are never handed out twice, and the account's notification sockets close."""

import logging
import time
from typing import Any

import anyio.from_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

import blog.notifications
from blog.hub import hub
from blog.users.models import User
from tests.helpers import PASSWORD, Account, assert_error, count_statements, register
from tests.test_notifications import notifications
from tests.test_websockets import closed_with


def login(client: TestClient, account: Account, password: str = PASSWORD) -> str:
    form = {"username": account.username, "password": password}
    response = client.post("/auth/login", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def me(client: TestClient, token: str) -> int:
    return client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_deleted_accounts_token_never_signs_in_the_next_account(client: TestClient) -> None:
    ada = register(client, "ada")
    assert client.delete("/users/me", headers=ada.headers).status_code == 204
    grace = register(client, "grace")
    assert grace.id != ada.id  # SQLite would hand out the same id again without AUTOINCREMENT
    assert_error(client.get("/users/me", headers=ada.headers), 401, "invalid_token")


def test_ids_of_deleted_posts_and_comments_are_not_reused(
    client: TestClient, user: Account
) -> None:
    first = client.post("/posts", headers=user.headers, json={"title": "t", "body": "b"}).json()
    comment = client.post(
        f"/posts/{first['id']}/comments", headers=user.headers, json={"body": "c"}
    ).json()
    assert client.delete(f"/posts/{first['id']}", headers=user.headers).status_code == 204
    second = client.post("/posts", headers=user.headers, json={"title": "t", "body": "b"}).json()
    again = client.post(
        f"/posts/{second['id']}/comments", headers=user.headers, json={"body": "c"}
    ).json()
    assert second["id"] > first["id"]
    assert again["id"] > comment["id"]


def test_logout_ends_every_token_of_the_account(
    client: TestClient, user: Account, other_user: Account
) -> None:
    laptop, phone = user.token, login(client, user)
    assert me(client, laptop) == me(client, phone) == 200

    response = client.post("/auth/logout", headers={"Authorization": f"Bearer {phone}"})

    assert response.status_code == 204
    assert response.content == b""
    assert me(client, laptop) == me(client, phone) == 401
    written = client.post(
        "/posts", headers={"Authorization": f"Bearer {laptop}"}, json={"title": "t", "body": "b"}
    )
    assert_error(written, 401, "invalid_token")
    assert me(client, other_user.token) == 200  # other accounts are untouched
    assert me(client, login(client, user)) == 200  # and logging in again works


def test_logout_needs_a_valid_token(client: TestClient) -> None:
    assert_error(client.post("/auth/logout"), 401, "not_authenticated")
    bad = client.post("/auth/logout", headers={"Authorization": "Bearer nonsense"})
    assert_error(bad, 401, "invalid_token")


def test_a_password_change_ends_every_older_token(client: TestClient, user: Account) -> None:
    other_device = login(client, user)
    change = {"current_password": PASSWORD, "new_password": "a brand new secret"}

    response = client.post("/users/me/password", headers=user.headers, json=change)

    assert response.status_code == 204
    assert me(client, user.token) == me(client, other_device) == 401
    assert me(client, login(client, user, "a brand new secret")) == 200


def test_a_refused_password_change_ends_nothing(client: TestClient, user: Account) -> None:
    change = {"current_password": "not my password", "new_password": "a brand new secret"}
    response = client.post("/users/me/password", headers=user.headers, json=change)
    assert_error(response, 400, "wrong_password")
    assert me(client, user.token) == 200


def test_logging_out_moves_the_stored_token_version(
    client: TestClient, user: Account, session: Session
) -> None:
    client.post("/auth/logout", headers=user.headers)
    version = session.exec(select(User.token_version).where(User.id == user.id)).one()
    assert version == 1


def wait_for_close(socket, code: int) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    closed_with(socket, code)
    return time.monotonic() - started


@pytest.mark.parametrize("ending", ["logout", "password change", "account deletion"])
def test_the_accounts_notification_sockets_close_with_1008(
    client: TestClient, user: Account, other_user: Account, ending: str
) -> None:
    with (
        notifications(client, user.token) as socket,
        notifications(client, other_user.token) as bystander,
    ):
        if ending == "logout":
            response = client.post("/auth/logout", headers=user.headers)
        elif ending == "password change":
            change = {"current_password": PASSWORD, "new_password": "a brand new secret"}
            response = client.post("/users/me/password", headers=user.headers, json=change)
        else:
            response = client.delete("/users/me", headers=user.headers)
        assert response.status_code == 204
        assert wait_for_close(socket, 1008) < 2
        # The other account's socket stays open and working.
        bystander.send_bytes(b"?")
        closed_with(bystander, 1003)


def end_tokens_behind_its_back(engine: Engine, user_id: int) -> None:
    """What a logout does to the account, from another session: its token version moves on."""
    with Session(engine) as other:
        account = other.get(User, user_id)
        assert account is not None
        account.token_version += 1
        other.commit()


def test_a_logout_while_the_socket_opens_still_closes_it(
    client: TestClient, user: Account, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The logout lands between the socket's token check and its joining the hub, so the
    broadcast misses it: the second check, once it has joined, closes it."""
    real_check = blog.notifications.active_user_id
    checks = 0

    def check_then_log_out(app_engine: Engine, token: str | None) -> int | None:
        nonlocal checks
        checks += 1
        found = real_check(app_engine, token)
        if checks == 1:
            end_tokens_behind_its_back(engine, user.id)
        return found

    monkeypatch.setattr(blog.notifications, "active_user_id", check_then_log_out)
    with client.websocket_connect(f"/ws/notifications?token={user.token}") as socket:
        closed_with(socket, 1008)
    assert checks == 2


def test_the_token_version_moves_on_in_sql_not_from_the_value_read(
    client: TestClient, user: Account, engine: Any
) -> None:
    """A logout and a login landing while a password change runs must not get the version the
    change then writes: the change adds one to what is stored, in the UPDATE itself."""
    with count_statements(engine) as statements:
        assert client.post("/auth/logout", headers=user.headers).status_code == 204
    [update] = [sql for sql in statements if sql.startswith("UPDATE users")]
    assert "token_version=(users.token_version +" in update.replace(" = ", "=")


def test_a_lone_surrogate_as_current_password_is_a_wrong_password(
    client: TestClient, user: Account
) -> None:
    # JSON may escape a lone surrogate; no UTF-8 text (and so no password) contains one.
    change = b'{"current_password": "\\udfff", "new_password": "a brand new secret"}'
    headers = {**user.headers, "Content-Type": "application/json"}
    response = client.post("/users/me/password", headers=headers, content=change)
    assert_error(response, 400, "wrong_password")


def test_a_socket_closed_by_a_logout_while_it_checks_again_is_closed_once(
    client: TestClient,
    user: Account,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The logout's broadcast reaches the hub while the socket's second check runs: the hub
    closes the socket, and the route, finding the token ended too, does not close it again
    (a second close raised, and logged an ERROR with a traceback)."""
    real_check = blog.notifications.active_user_id
    checks = 0

    def check_while_logging_out(app_engine: Engine, token: str | None) -> int | None:
        nonlocal checks
        checks += 1
        if checks == 2:
            end_tokens_behind_its_back(engine, user.id)
            anyio.from_thread.run(hub.sign_out, user.id)  # closes this socket
        return real_check(app_engine, token)

    monkeypatch.setattr(blog.notifications, "active_user_id", check_while_logging_out)
    url = f"/ws/notifications?token={user.token}"
    with caplog.at_level(logging.ERROR), client.websocket_connect(url) as socket:
        closed_with(socket, 1008)
    assert checks == 2
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
