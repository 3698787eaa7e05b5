"""Password reset by email: the whole flow through the console backend and a real SMTP server,
answers that say nothing about which emails exist, tokens that work once and then never again,
expiry on a clock the test controls, and what each kind of bad input gets."""

import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

import blog.users.recovery
from blog.config import settings
from blog.database import utc_now
from blog.main import app
from blog.users.models import PasswordResetToken
from tests.helpers import (
    PASSWORD,
    Account,
    Inbox,
    assert_error,
    count_statements,
    smtp_inbox,
)
from tests.test_capacity import assert_busy, take_every_hash_slot


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch) as received:
        yield received


NEW_PASSWORD = "a brand new passphrase"
TOKEN_IN_EMAIL = re.compile(r"token=([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")


def ask_for_reset(client: TestClient, email: str) -> Any:
    return client.post("/auth/password-reset", json={"email": email})


def confirm(client: TestClient, token: str, new_password: str = NEW_PASSWORD) -> Any:
    body = {"token": token, "new_password": new_password}
    return client.post("/auth/password-reset/confirm", json=body)


def login(client: TestClient, account: Account, password: str) -> int:
    form = {"username": account.username, "password": password}
    return client.post("/auth/login", data=form).status_code


@pytest.fixture
def console_tokens(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[str]]]:
    """The tokens of every reset email the console backend has shown, in order."""
    monkeypatch.setattr(settings, "environment", "development")
    with caplog.at_level(logging.INFO, logger="blog.mail"):
        yield lambda: TOKEN_IN_EMAIL.findall(caplog.text)


def test_a_forgotten_password_is_reset_through_the_console_email(
    client: TestClient, user: Account, console_tokens: Callable[[], list[str]]
) -> None:
    response = ask_for_reset(client, user.email)
    assert response.status_code == 202
    [token] = console_tokens()
    assert confirm(client, token).status_code == 204
    assert login(client, user, NEW_PASSWORD) == 200
    assert login(client, user, user.password) == 400  # the old password is gone
    assert_error(client.get("/users/me", headers=user.headers), 401, "invalid_token")


def test_the_reset_email_goes_through_smtp_and_says_what_to_do(
    client: TestClient, user: Account, inbox: Inbox
) -> None:
    inbox.messages.clear()  # the welcome email
    assert ask_for_reset(client, user.email.upper()).status_code == 202  # emails ignore case
    [(envelope, message)] = inbox.messages
    assert envelope.rcpt_tos == [user.email]
    assert message["Subject"] == "Reset your blog password"
    text = str(message.get_payload())
    assert "POST /auth/password-reset/confirm" in text
    assert f"for {settings.password_reset_minutes} minutes" in text
    [token] = TOKEN_IN_EMAIL.findall(text)
    assert confirm(client, token).status_code == 204
    assert login(client, user, NEW_PASSWORD) == 200


def test_known_and_unknown_emails_get_the_same_answer(client: TestClient, user: Account) -> None:
    def answer(email: str) -> tuple[int, Any, dict[str, str]]:
        response = ask_for_reset(client, email)
        headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
        return response.status_code, response.json(), headers

    assert answer(user.email) == answer("nobody@example.com")


def test_the_request_itself_does_no_per_account_work(
    client: TestClient, user: Account, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same time for both: the request runs no SQL at all; the lookup, the token and the
    email happen in the background task, after the answer has gone."""
    scheduled: list[str] = []
    monkeypatch.setattr(
        blog.users.recovery, "send_password_reset", lambda _session, email: scheduled.append(email)
    )
    for email in (user.email, "nobody@example.com"):
        with count_statements(engine) as statements:
            assert ask_for_reset(client, email).status_code == 202
        assert statements == []
    assert scheduled == [user.email, "nobody@example.com"]


def test_an_unknown_email_stores_and_sends_nothing(
    client: TestClient, user: Account, session: Session, inbox: Inbox
) -> None:
    inbox.messages.clear()
    assert ask_for_reset(client, "nobody@example.com").status_code == 202
    assert inbox.messages == []
    assert session.exec(select(PasswordResetToken)).all() == []


def test_a_token_works_once_and_using_one_ends_the_others(
    client: TestClient, user: Account, console_tokens: Callable[[], list[str]]
) -> None:
    ask_for_reset(client, user.email)
    ask_for_reset(client, user.email)
    first, second = console_tokens()
    assert confirm(client, first).status_code == 204
    assert_error(confirm(client, first, "yet another passphrase"), 400, "invalid_reset_token")
    assert_error(confirm(client, second, "yet another passphrase"), 400, "invalid_reset_token")
    assert login(client, user, NEW_PASSWORD) == 200


def test_only_the_hash_of_a_token_is_stored(
    client: TestClient, user: Account, session: Session, console_tokens: Callable[[], list[str]]
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    [stored] = session.exec(select(PasswordResetToken)).all()
    assert stored.token_hash != token and token not in stored.token_hash
    assert len(stored.token_hash) == 64  # SHA-256, hex


def test_a_token_expires(
    client: TestClient,
    user: Account,
    console_tokens: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    almost = utc_now() + timedelta(minutes=settings.password_reset_minutes - 1)
    later = utc_now() + timedelta(minutes=settings.password_reset_minutes + 1)
    monkeypatch.setattr(blog.users.recovery, "utc_now", lambda: later)
    assert_error(confirm(client, token), 400, "invalid_reset_token")
    monkeypatch.setattr(blog.users.recovery, "utc_now", lambda: almost)
    assert confirm(client, token).status_code == 204


def test_a_password_that_breaks_the_rules_leaves_the_token_unspent(
    client: TestClient, user: Account, console_tokens: Callable[[], list[str]]
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    for weak in ("password", user.username.upper() + "_1", user.email):
        response = confirm(client, token, weak)
        if weak == user.email:
            assert response.json()["detail"][0]["loc"] == ["body", "new_password"]
        assert_error(response, 422, "validation_error")
    assert login(client, user, user.password) == 200  # nothing changed
    assert confirm(client, token).status_code == 204


@pytest.mark.parametrize(
    "token",
    [
        "",
        "short",
        "A" * 42,
        "A" * 44,
        "A" * 10_000,
        "!" * 43,
        "\x00" * 43,
        "é" * 43,
    ],
)
def test_a_malformed_token_is_a_400_never_a_500(client: TestClient, token: str) -> None:
    assert_error(confirm(client, token), 400, "invalid_reset_token")


def test_a_token_of_lone_surrogates_is_a_400(client: TestClient) -> None:
    # Valid JSON (`\\udfff` escapes) for a string that has no UTF-8 form at all.
    body = '{"token": "' + "\\udfff" * 43 + '", "new_password": "a brand new passphrase"}'
    response = client.post(
        "/auth/password-reset/confirm",
        content=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_reset_token")


def test_a_well_formed_token_that_matches_nothing_is_a_400(client: TestClient) -> None:
    assert_error(confirm(client, "A" * 43), 400, "invalid_reset_token")


@pytest.mark.parametrize("email", ["", "not-an-email", "ada@", "a" * 400 + "@example.com"])
def test_a_malformed_email_is_a_422(client: TestClient, email: str) -> None:
    assert_error(ask_for_reset(client, email), 422, "validation_error")


@pytest.fixture
def other_address(client: TestClient) -> Iterator[TestClient]:
    with TestClient(app, client=("203.0.113.9", 50000)) as other:
        yield other


def test_a_flood_for_one_address_sends_a_few_emails_then_429(
    client: TestClient, other_address: TestClient, user: Account, inbox: Inbox
) -> None:
    inbox.messages.clear()
    answers = [ask_for_reset(client, user.email).status_code for _ in range(5)]
    answers += [ask_for_reset(other_address, user.email).status_code for _ in range(5)]
    limit = settings.password_reset_max_per_email
    assert answers == [202] * limit + [429] * (10 - limit)
    assert len(inbox.messages) == limit
    refused = ask_for_reset(client, user.email)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0


def test_one_client_cannot_flood_many_addresses(client: TestClient) -> None:
    limit = settings.password_reset_max_per_client
    answers = [ask_for_reset(client, f"n{n}@example.com").status_code for n in range(limit + 2)]
    assert answers == [202] * limit + [429, 429]


def test_a_deleted_account_leaves_no_token_behind(
    client: TestClient, user: Account, session: Session, console_tokens: Callable[[], list[str]]
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    assert client.delete("/users/me", headers=user.headers).status_code == 204
    assert session.exec(select(PasswordResetToken)).all() == []  # ON DELETE CASCADE
    assert_error(confirm(client, token), 400, "invalid_reset_token")


@pytest.mark.parametrize("ending", ["new email", "password change", "logout"])
def test_an_email_change_a_password_change_or_a_logout_ends_reset_tokens(
    client: TestClient, user: Account, console_tokens: Callable[[], list[str]], ending: str
) -> None:
    """Whoever still reads the old inbox must not take the account back with an older email."""
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    if ending == "new email":
        body = {"email": "moved@example.com", "current_password": user.password}
        assert client.patch("/users/me", headers=user.headers, json=body).status_code == 200
    elif ending == "password change":
        body = {"current_password": user.password, "new_password": "another good passphrase"}
        assert client.post("/users/me/password", headers=user.headers, json=body).status_code == 204
    else:
        assert client.post("/auth/logout", headers=user.headers).status_code == 204
    assert_error(confirm(client, token), 400, "invalid_reset_token")


def test_expired_tokens_of_every_account_go_when_a_new_one_is_made(
    client: TestClient,
    user: Account,
    other_user: Account,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ask_for_reset(client, user.email)
    later = utc_now() + timedelta(minutes=settings.password_reset_minutes + 1)
    monkeypatch.setattr(blog.users.recovery, "utc_now", lambda: later)
    ask_for_reset(client, other_user.email)
    stored = session.exec(select(PasswordResetToken)).all()
    assert [token.user_id for token in stored] == [other_user.id]


def test_while_every_hash_slot_is_taken_routes_that_hash_answer_503_and_reads_go_on(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    take_every_hash_slot(monkeypatch)
    change = {"current_password": PASSWORD, "new_password": "a brand new secret"}
    new_account = {"email": "grace@example.com", "username": "grace", "password": PASSWORD}
    assert_busy(client.post("/auth/login", data={"username": "ada", "password": PASSWORD}))
    assert_busy(client.post("/auth/register", json=new_account))
    assert_busy(client.post("/users/me/password", headers=user.headers, json=change))
    assert_busy(client.patch("/users/me", headers=user.headers, json={"bio": "hi"}))
    reset = {"token": "x" * 43, "new_password": "a brand new secret"}
    assert_busy(client.post("/auth/password-reset/confirm", json=reset))
    # Nothing else waits for a hash slot: reads, and writes that hash nothing.
    assert client.get("/users").json()["total"] == 1  # grace was not registered
    assert client.get("/users/me", headers=user.headers).status_code == 200
    assert client.post("/posts", headers=user.headers, json={"title": "t", "body": "b"}).is_success


def test_made_up_tokens_from_one_client_are_refused_after_their_share(
    client: TestClient,
    other_address: TestClient,
    user: Account,
    console_tokens: Callable[[], list[str]],
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    limit = settings.password_reset_confirm_max_failures
    answers = [confirm(client, "A" * 42 + str(n % 10)).status_code for n in range(limit)]
    assert answers == [400] * limit
    refused = confirm(client, "B" * 43)
    assert_error(refused, 429, "rate_limited")
    assert 0 < int(refused.headers["Retry-After"]) <= settings.password_reset_confirm_window_seconds
    assert_error(confirm(client, token), 429, "rate_limited")  # even a good one, from there
    assert confirm(other_address, token).status_code == 204  # another client is not held up


def test_made_up_tokens_sent_at_once_still_get_only_their_share_of_400s(client: TestClient) -> None:
    """All of them pass the first check together; counting each failure decides which are 429."""
    limit = settings.password_reset_confirm_max_failures
    with ThreadPoolExecutor(max_workers=limit * 3) as pool:
        tokens = [f"{n:043d}" for n in range(limit * 3)]
        answers = list(pool.map(lambda token: confirm(client, token).status_code, tokens))
    assert answers.count(400) == limit
    assert answers.count(429) == limit * 2


def test_a_spent_token_counts_as_a_failure(
    client: TestClient, user: Account, console_tokens: Callable[[], list[str]]
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    assert confirm(client, token).status_code == 204
    limit = settings.password_reset_confirm_max_failures
    answers = [confirm(client, token).status_code for _ in range(limit + 1)]
    assert answers == [400] * limit + [429]


def test_a_good_token_with_a_refused_password_does_not_count(
    client: TestClient, user: Account, console_tokens: Callable[[], list[str]]
) -> None:
    ask_for_reset(client, user.email)
    [token] = console_tokens()
    limit = settings.password_reset_confirm_max_failures
    answers = [confirm(client, token, "password").status_code for _ in range(limit + 2)]
    assert answers == [422] * (limit + 2)
    assert confirm(client, token).status_code == 204


def test_a_completed_reset_tells_the_account_by_email(
    client: TestClient, user: Account, inbox: Inbox
) -> None:
    inbox.messages.clear()  # the welcome email
    ask_for_reset(client, user.email)
    [(_, reset_email)] = inbox.messages
    [token] = TOKEN_IN_EMAIL.findall(str(reset_email.get_payload()))
    assert confirm(client, token).status_code == 204
    [_, (envelope, notice)] = inbox.messages
    assert envelope.rcpt_tos == [user.email]
    assert notice["Subject"] == "Your password was reset for your blog account"
    text = str(notice.get_payload())
    assert token not in text and NEW_PASSWORD not in text
