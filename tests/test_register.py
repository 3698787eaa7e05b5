"""Registering: a body validated, a password stored as a bcrypt hash, one account per email."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from blog.users import accounts
from blog.users.models import User
from tests.helpers import PASSWORD, assert_error


def test_a_422_lists_each_field_error(client: TestClient) -> None:
    response = client.post("/auth/register", json={"email": "nope", "username": "x"})
    assert_error(response, 422, "validation_error")
    problems = {tuple(problem["loc"]): problem for problem in response.json()["detail"]}
    assert set(problems) == {("body", "email"), ("body", "username"), ("body", "password")}
    assert all(set(problem) == {"loc", "msg", "type"} for problem in problems.values())


def test_a_body_with_the_wrong_content_type_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/auth/register", content=b"email=a@b.c", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 422, "validation_error")


def test_a_registration_that_loses_a_uniqueness_race_is_a_409(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    assert client.post("/auth/register", json=payload).status_code == 201
    # Pretend the second request checked before the first one committed: the check passes, the
    # database's unique constraint refuses the insert.
    real_check = accounts.ensure_available
    checks: list[str] = []

    def check_too_early(*args: object, **kwargs: object) -> None:
        checks.append("check")
        if len(checks) > 1:
            real_check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(accounts, "ensure_available", check_too_early)
    payload["username"] = "someone_else"
    assert_error(client.post("/auth/register", json=payload), 409, "email_taken")
    assert session.exec(select(func.count()).select_from(User)).one() == 1


@pytest.mark.parametrize("email", ["\u0430da@example.com", "j\u00f6rg@example.com"])
def test_an_address_with_non_ascii_before_the_at_sign_is_a_422_that_says_why(
    client: TestClient, session: Session, email: str
) -> None:
    """A Cyrillic a (U+0430) looks like a Latin one: without the rule it registers beside ada."""
    body = {"email": email, "username": "lookalike", "password": PASSWORD}
    response = client.post("/auth/register", json=body)
    assert_error(response, 422, "validation_error")
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "email"]
    assert "Internationalized characters before the @-sign are not supported" in problem["msg"]
    assert session.exec(select(func.count()).select_from(User)).one() == 0


def test_an_international_domain_is_kept_in_its_ascii_form(
    client: TestClient, session: Session
) -> None:
    body = {"email": "ada@\u0430pple.example", "username": "ada", "password": PASSWORD}
    assert client.post("/auth/register", json=body).status_code == 201
    assert session.exec(select(User)).one().email == "ada@xn--pple-43d.example"
