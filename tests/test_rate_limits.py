"""Brute force: failed logins per account and client, registrations per client, 429 with
Retry-After; the counting falls back to the process when Redis fails."""

import logging
import time
from collections.abc import Iterator
from typing import Any

import bcrypt
import limits.storage.memory
import pytest
from fastapi.testclient import TestClient
from limits import RateLimitItemPerMinute
from limits.storage import Storage, storage_from_string
from sqlmodel import Session, col, func, select
from starlette.requests import Request

import blog.rate_limits
from blog.addresses import client_address
from blog.comments.models import Comment
from blog.config import (
    Settings,
    settings,
)
from blog.errors import RateLimited
from blog.main import app
from blog.posts.models import Post
from blog.rate_limits import Counters, count_or_refuse
from blog.users.models import User
from tests.helpers import (
    PASSWORD,
    Account,
    assert_error,
    create_comment,
    create_post,
    register,
)
from tests.test_capacity import assert_busy, take_every_hash_slot
from tests.test_users import change_email

WRONG = "not the password"


def login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", data={"username": username, "password": password})


def fail_logins(client: TestClient, username: str, times: int) -> None:
    for _ in range(times):
        assert_error(login(client, username, WRONG), 400, "invalid_credentials")


def assert_rate_limited(response, window: int) -> None:  # type: ignore[no-untyped-def]
    assert_error(response, 429, "rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= window


@pytest.fixture
def other_address(client: TestClient) -> Iterator[TestClient]:
    """The same app and database, seen from another client address."""
    with TestClient(app, client=("203.0.113.9", 50000)) as other:
        yield other


def test_after_the_limit_even_the_right_password_is_a_429(
    client: TestClient, user: Account
) -> None:
    fail_logins(client, user.username, settings.login_max_failures)
    assert_rate_limited(login(client, user.username), settings.login_window_seconds)
    assert_rate_limited(login(client, user.username, WRONG), settings.login_window_seconds)


def test_email_and_username_count_as_one_account(client: TestClient, user: Account) -> None:
    half = settings.login_max_failures // 2
    fail_logins(client, user.email, half)
    fail_logins(client, user.username.upper(), settings.login_max_failures - half)
    assert_error(login(client, user.email), 429, "rate_limited")
    assert_error(login(client, user.username), 429, "rate_limited")


def test_other_accounts_and_other_clients_are_unaffected(
    client: TestClient, user: Account, other_user: Account, other_address: TestClient
) -> None:
    fail_logins(client, user.username, settings.login_max_failures)
    assert login(client, other_user.username).status_code == 200
    assert login(other_address, user.username).status_code == 200


def test_an_unknown_name_counts_by_its_text(client: TestClient) -> None:
    fail_logins(client, "nobody", settings.login_max_failures)
    assert_error(login(client, "NOBODY", WRONG), 429, "rate_limited")
    assert_error(login(client, "somebody", WRONG), 400, "invalid_credentials")


def test_one_client_s_logins_to_any_names_are_limited_in_all(
    client: TestClient, user: Account, other_address: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made-up names each count on their own; a client's logins in all count too."""
    monkeypatch.setattr(settings, "login_max_per_client", 3)
    for name in ("made-up-1", "made-up-2", "made-up-3"):
        assert_error(login(client, name, WRONG), 400, "invalid_credentials")
    refused = login(client, "made-up-4", WRONG)
    assert_rate_limited(refused, settings.login_window_seconds)
    assert "logins from this address" in refused.json()["detail"]
    assert_rate_limited(login(client, user.username), settings.login_window_seconds)
    assert login(other_address, user.username).status_code == 200
    take_every_hash_slot(monkeypatch)  # refused before it waits for a turn at bcrypt
    assert_rate_limited(login(client, "made-up-5", WRONG), settings.login_window_seconds)


def test_a_success_forgets_the_failures_before_it(client: TestClient, user: Account) -> None:
    fail_logins(client, user.username, settings.login_max_failures - 1)
    assert login(client, user.username).status_code == 200
    fail_logins(client, user.username, settings.login_max_failures - 1)
    assert login(client, user.username).status_code == 200


class Clock:
    """Stands in for the `time` module where the counters read the time."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


def test_once_the_window_has_passed_logins_are_allowed_again(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()  # the counters' clock, moved by the test instead of waited for
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    monkeypatch.setattr(blog.rate_limits, "time", clock)  # for Retry-After
    monkeypatch.setattr(settings, "login_max_failures", 2)
    monkeypatch.setattr(settings, "login_window_seconds", 1)
    fail_logins(client, user.username, 2)
    assert_rate_limited(login(client, user.username), 1)
    clock.now += 0.9
    assert_rate_limited(login(client, user.username), 1)
    clock.now += 0.2
    assert login(client, user.username).status_code == 200


def test_a_refused_login_costs_no_bcrypt_time(
    client: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_logins(client, user.username, settings.login_max_failures)
    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        checks.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    assert_error(login(client, user.username), 429, "rate_limited")
    assert checks == []


def test_registrations_per_client_are_limited(
    client: TestClient,
    other_address: TestClient,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "register_max_per_client", 3)

    def register_as(via: TestClient, name: str):  # type: ignore[no-untyped-def]
        account = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        return via.post("/auth/register", json=account)

    assert [register_as(client, f"user{index}").status_code for index in range(3)] == [201] * 3
    assert_rate_limited(register_as(client, "one_too_many"), 3600)
    assert register_as(other_address, "from_elsewhere").status_code == 201
    assert session.exec(select(func.count()).select_from(User)).one() == 4


def test_email_changes_count_with_registrations(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "register_max_per_client", 4)
    user, grace = register(client, "ada"), register(client, "grace")
    taken = change_email(client, user, email="grace@example.com", current_password=PASSWORD)
    assert_error(taken, 409, "email_taken")  # found taken: that costs a share too
    moved = change_email(client, user, email="hedy@example.com", current_password=PASSWORD)
    assert moved.status_code == 200
    refused = change_email(client, grace, email="ida@example.com", current_password=PASSWORD)
    assert_rate_limited(refused, 3600)  # any account, from this client
    emails = session.exec(select(User.email).order_by(col(User.id))).all()
    assert emails == ["hedy@example.com", "grace@example.com"]
    bio_only = client.patch("/users/me", headers=user.headers, json={"bio": "Still here."})
    assert bio_only.status_code == 200  # only a new email counts


def test_an_account_writes_a_few_posts_and_comments_an_hour(
    client: TestClient,
    user: Account,
    other_user: Account,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "write_max_per_account", 3)
    post = create_post(client, user)
    create_comment(client, user, post["id"])
    invalid = client.post("/posts", headers=user.headers, json={"title": ""})
    assert_error(invalid, 422, "validation_error")  # counted too: every attempt is
    one_more_post = client.post("/posts", headers=user.headers, json={"title": "t", "body": "b"})
    assert_rate_limited(one_more_post, 3600)
    one_more_comment = client.post(
        f"/posts/{post['id']}/comments", headers=user.headers, json={"body": "b"}
    )
    assert_rate_limited(one_more_comment, 3600)  # posts and comments share the count
    create_post(client, other_user)  # another account writes on
    assert session.exec(select(func.count()).select_from(Post)).one() == 2
    assert session.exec(select(func.count()).select_from(Comment)).one() == 1


def test_a_registration_with_an_invalid_body_counts_too(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "register_max_per_client", 1)
    assert client.post("/auth/register", json={"email": "not an address"}).status_code == 422
    account = {"email": "grace@example.com", "username": "grace", "password": PASSWORD}
    assert_rate_limited(client.post("/auth/register", json=account), 3600)


def test_counting_carries_on_in_the_process_when_redis_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nothing_listens = storage_from_string("redis://127.0.0.1:1/0", wrap_exceptions=True)
    assert isinstance(nothing_listens, Storage)
    counters = Counters(nothing_listens)
    two_a_minute = RateLimitItemPerMinute(2)
    with caplog.at_level(logging.WARNING, logger="blog.rate_limits"):
        count_or_refuse(counters, two_a_minute, ["key"], "tries")
        count_or_refuse(counters, two_a_minute, ["key"], "tries")
        with pytest.raises(RateLimited) as refused:
            count_or_refuse(counters, two_a_minute, ["key"], "tries")
        assert refused.value.headers is not None
        assert 0 < int(refused.value.headers["Retry-After"]) <= 60
        counters.run(lambda limiter: limiter.clear(two_a_minute, "key"))
        count_or_refuse(counters, two_a_minute, ["key"], "tries")
    assert "counting in this process" in caplog.text


def test_the_hardening_defaults() -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["max_body_bytes"] == 256 * 1024
    assert defaults["database_statement_timeout"] == 10
    assert (defaults["login_max_failures"], defaults["login_window_seconds"]) == (10, 900)
    assert defaults["register_max_per_client"] == 20
    assert defaults["login_max_per_client"] == 100


def test_guessing_the_current_password_counts_as_failed_logins(
    client: TestClient, user: Account
) -> None:
    """A stolen token is no way around the login limit: 429 after `LOGIN_MAX_FAILURES`."""
    for attempt in range(settings.login_max_failures):
        guess = f"guess number {attempt}"
        response = (
            change_email(client, user, current_password=guess)
            if attempt % 2
            else client.post(
                "/users/me/password",
                headers=user.headers,
                json={"current_password": guess, "new_password": "battery staple 42"},
            )
        )
        assert_error(response, 400, "wrong_password")
    assert_error(change_email(client, user, current_password=user.password), 429, "rate_limited")
    form = {"username": user.username, "password": user.password}
    assert_error(client.post("/auth/login", data=form), 429, "rate_limited")


def test_the_right_current_password_forgets_earlier_guesses(
    client: TestClient, user: Account
) -> None:
    def guess(password: str, email: str = "new@example.com") -> Any:
        body = {"email": email, "current_password": password}
        return client.patch("/users/me", headers=user.headers, json=body)

    for _ in range(settings.login_max_failures - 1):
        assert_error(guess("nope nope"), 400, "wrong_password")
    assert guess(user.password).status_code == 200
    # Counting starts again: these would be 429s had the earlier guesses still counted.
    for _ in range(2):
        assert_error(guess("nope nope", "newer@example.com"), 400, "wrong_password")


def test_a_registration_over_its_limit_is_refused_before_it_waits_for_a_hash_slot(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    take_every_hash_slot(monkeypatch)
    monkeypatch.setattr(settings, "register_max_per_client", 1)
    account = {"email": "grace@example.com", "username": "grace", "password": PASSWORD}
    assert_busy(client.post("/auth/register", json=account))  # counted, then no slot came free
    assert_error(client.post("/auth/register", json=account), 429, "rate_limited")


def test_ipv6_addresses_of_one_network_are_one_client() -> None:
    """A machine picks its IPv6 address from a /64 at will: counting by address would give it
    a fresh count with every request (`blog/addresses.py`)."""

    def client_of(host: str) -> str:
        return client_address(Request({"type": "http", "client": (host, 40000), "headers": []}))

    assert client_of("2001:db8:1:2::1") == client_of("2001:db8:1:2:ffff::9")
    assert client_of("2001:db8:1:2::1") != client_of("2001:db8:1:3::1")
    assert client_of("203.0.113.7") == "203.0.113.7"
