"""Registration, login and bearer tokens: what each kind of good and bad input gets."""

import base64
import json
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from blog.config import settings
from blog.database import utc_now
from blog.main import app
from blog.security import (
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)
from blog.users.models import User
from tests.helpers import PASSWORD, Account, an_unreachable_database, assert_error, register


def user_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()


def login(client: TestClient, identifier: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", data={"username": identifier, "password": password})


# --- registration -------------------------------------------------------------------------------


def test_register_returns_a_bearer_token_that_signs_in(client: TestClient) -> None:
    response = client.post(
        "/auth/register",
        json={"email": "ada@example.com", "username": "Ada_1", "password": PASSWORD},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    me = client.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "Ada_1"


def test_register_stores_a_bcrypt_hash_and_lower_case_email(
    client: TestClient, session: Session
) -> None:
    register(client, "Ada", email="Ada.Lovelace@Example.COM")
    stored = session.exec(select(User)).one()
    assert stored.email == "ada.lovelace@example.com"
    assert stored.username == "Ada"  # kept as typed
    assert stored.password_hash.startswith("$2b$04$")  # bcrypt, BCRYPT_ROUNDS=4 in tests
    assert PASSWORD not in stored.password_hash
    assert stored.created_at.tzinfo is not None


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"])
def test_email_is_unique_whatever_its_case(
    client: TestClient, session: Session, user: Account, email: str
) -> None:
    response = client.post(
        "/auth/register", json={"email": email, "username": "someone", "password": PASSWORD}
    )
    assert_error(response, 409, "email_taken")
    assert user_count(session) == 1


@pytest.mark.parametrize("username", ["ada", "ADA", "Ada"])
def test_username_is_unique_whatever_its_case(
    client: TestClient, session: Session, user: Account, username: str
) -> None:
    response = client.post(
        "/auth/register",
        json={"email": "new@example.com", "username": username, "password": PASSWORD},
    )
    assert_error(response, 409, "username_taken")
    assert user_count(session) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", ""),
        ("username", "ab"),  # too short
        ("username", "a" * 31),  # too long
        ("username", "has space"),
        ("username", "dash-ed"),
        ("username", "naïve"),
        ("username", 123),  # wrong type
        ("password", "short"),  # 5 bytes
        ("password", "a" * 73),  # 73 bytes: more than bcrypt reads
        ("password", "é" * 36 + "a"),  # 36 characters, 73 bytes
        ("password", "€" * 25),  # 25 characters, 75 bytes
        ("password", None),
    ],
)
def test_register_rejects_invalid_fields_and_writes_nothing(
    client: TestClient, session: Session, field: str, value: object
) -> None:
    payload: dict[str, object] = {"email": "ada@example.com", "username": "ada"}
    payload |= {"password": PASSWORD, field: value}
    response = client.post("/auth/register", json=payload)
    assert_error(response, 422, "validation_error")
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert user_count(session) == 0


@pytest.mark.parametrize("missing", ["email", "username", "password"])
def test_register_requires_every_field(client: TestClient, session: Session, missing: str) -> None:
    payload = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    del payload[missing]
    response = client.post("/auth/register", json=payload)
    assert_error(response, 422, "validation_error")
    assert response.json()["detail"][0]["type"] == "missing"
    assert user_count(session) == 0


def test_validation_errors_do_not_echo_the_password(client: TestClient) -> None:
    secret = "x" * 80
    response = client.post(
        "/auth/register", json={"email": "a@example.com", "username": "ada", "password": secret}
    )
    assert_error(response, 422, "validation_error")
    assert secret not in response.text


@pytest.mark.parametrize(
    "password",
    ["a" * 72, "é" * 36, "€" * 24, "😀" * 17 + "abcd"],  # all exactly 72 bytes
    ids=["ascii", "two-byte", "three-byte", "four-byte"],
)
def test_a_72_byte_password_registers_and_logs_in(client: TestClient, password: str) -> None:
    assert len(password.encode()) == 72
    account = register(client, "ada", password=password)
    assert login(client, account.username, password).status_code == 200


def test_a_72_byte_password_is_not_matched_by_its_first_71_bytes(client: TestClient) -> None:
    register(client, "ada", password="a" * 72)
    assert_error(login(client, "ada", "a" * 71), 400, "invalid_credentials")


def test_registering_with_a_body_that_is_not_json_is_a_422(
    client: TestClient, session: Session
) -> None:
    response = client.post(
        "/auth/register",
        content=b'{"email": "ada@example.com", "username":',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error")
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert user_count(session) == 0


def test_registering_with_a_json_array_is_a_422(client: TestClient) -> None:
    assert_error(client.post("/auth/register", json=[1, 2]), 422, "validation_error")


# --- login --------------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["ada", "ADA", "ada@example.com", "ADA@Example.com"])
def test_login_with_email_or_username_in_any_case(
    client: TestClient, user: Account, identifier: str
) -> None:
    response = login(client, identifier)
    assert response.status_code == 200
    token = response.json()["access_token"]
    me = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == user.id


def test_login_accepts_the_form_swagger_ui_sends(client: TestClient, user: Account) -> None:
    # Swagger UI's Authorize dialog posts the OAuth2 password grant with these fields.
    form = {
        "grant_type": "password",
        "username": user.email,
        "password": user.password,
        "scope": "",
        "client_id": "",
        "client_secret": "",
    }
    response = client.post("/auth/login", data=form)
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_wrong_password_and_unknown_account_get_the_same_answer(
    client: TestClient, user: Account
) -> None:
    wrong_password = login(client, user.username, "not the password")
    unknown_account = login(client, "nobody", "not the password")
    assert_error(wrong_password, 400, "invalid_credentials")
    assert_error(unknown_account, 400, "invalid_credentials")
    assert wrong_password.json() == unknown_account.json()


class CheckpwSpy:
    """Counts calls to bcrypt.checkpw while still running the real thing."""

    def __init__(self) -> None:
        self.calls = 0
        self.real_checkpw = bcrypt.checkpw

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.calls += 1
        matches: bool = self.real_checkpw(password, hashed)
        return matches


@pytest.fixture
def checkpw_spy(monkeypatch: pytest.MonkeyPatch) -> CheckpwSpy:
    spy = CheckpwSpy()
    monkeypatch.setattr(bcrypt, "checkpw", spy)
    return spy


def test_login_for_an_unknown_account_still_verifies_a_hash(
    client: TestClient, checkpw_spy: CheckpwSpy
) -> None:
    assert_error(login(client, "nobody@example.com"), 400, "invalid_credentials")
    assert checkpw_spy.calls == 1


def test_login_with_a_wrong_password_verifies_exactly_one_hash(
    client: TestClient, user: Account, checkpw_spy: CheckpwSpy
) -> None:
    assert_error(login(client, user.email, "wrong password"), 400, "invalid_credentials")
    assert checkpw_spy.calls == 1


@pytest.mark.parametrize("password", ["a" * 73, "é" * 37, "x" * 10_000])
def test_login_with_a_password_longer_than_bcrypt_reads_is_invalid_credentials(
    client: TestClient, user: Account, password: str
) -> None:
    assert_error(login(client, user.email, password), 400, "invalid_credentials")


@pytest.fixture
def deactivated_user(session: Session, user: Account) -> Account:
    stored = session.get(User, user.id)
    assert stored is not None
    stored.is_active = False
    session.add(stored)
    session.commit()
    return user


def test_login_of_a_deactivated_account_is_refused(
    client: TestClient, deactivated_user: Account
) -> None:
    assert_error(login(client, deactivated_user.email), 400, "invalid_credentials")


@pytest.mark.parametrize("missing", ["username", "password"])
def test_login_requires_both_form_fields(client: TestClient, missing: str) -> None:
    form = {"username": "ada", "password": PASSWORD}
    del form[missing]
    assert_error(client.post("/auth/login", data=form), 422, "validation_error")


def test_login_with_json_instead_of_a_form_is_a_422(client: TestClient, user: Account) -> None:
    response = client.post("/auth/login", json={"username": user.email, "password": PASSWORD})
    assert_error(response, 422, "validation_error")


# --- tokens -------------------------------------------------------------------------------------


def make_token(claims: dict[str, object], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or settings.jwt_secret_value, algorithm="HS256")


def test_token_carries_subject_issued_at_and_expiry(user: Account) -> None:
    claims = jwt.decode(user.token, settings.jwt_secret_value, algorithms=["HS256"])
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == settings.jwt_expires_minutes * 60


def test_no_token_is_401_not_authenticated_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/users/me")
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_basic_auth_header_is_not_a_token(client: TestClient) -> None:
    response = client.get("/users/me", headers={"Authorization": "Basic YWRhOnB3"})
    assert_error(response, 401, "not_authenticated")


def test_an_expired_token_is_rejected(client: TestClient, user: Account) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    token = make_token(
        {"sub": str(user.id), "iat": an_hour_ago - timedelta(hours=1), "exp": an_hour_ago}
    )
    response = get_me(client, token)
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_signed_with_another_secret_is_rejected(client: TestClient, user: Account) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(minutes=5)}
    assert_error(
        get_me(client, make_token(claims, "a-forger's-secret-" + "x" * 32)), 401, "invalid_token"
    )


def b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_alg_none_token_is_rejected(client: TestClient, user: Account) -> None:
    now = int(datetime.now(UTC).timestamp())
    header = b64url({"alg": "none", "typ": "JWT"})
    payload = b64url({"sub": str(user.id), "iat": now, "exp": now + 300})
    assert_error(get_me(client, f"{header}.{payload}."), 401, "invalid_token")


def test_a_token_with_a_tampered_subject_is_rejected(
    client: TestClient, user: Account, other_user: Account
) -> None:
    header, _payload, signature = user.token.split(".")
    now = int(datetime.now(UTC).timestamp())
    payload = b64url({"sub": str(other_user.id), "iat": now, "exp": now + 300})
    assert_error(get_me(client, f"{header}.{payload}.{signature}"), 401, "invalid_token")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "not-a-number"},
        {"sub": "99999999999999999999"},
        {"sub": "0"},
        {},  # no subject
    ],
)
def test_a_token_without_a_usable_subject_is_rejected(
    client: TestClient, claims: dict[str, object]
) -> None:
    now = datetime.now(UTC)
    token = make_token({**claims, "iat": now, "exp": now + timedelta(minutes=5)})
    assert_error(get_me(client, token), 401, "invalid_token")


def test_a_token_without_an_expiry_is_rejected(client: TestClient, user: Account) -> None:
    token = make_token({"sub": str(user.id), "iat": datetime.now(UTC)})
    assert_error(get_me(client, token), 401, "invalid_token")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "e30.e30.e30"])
def test_a_malformed_token_is_rejected(client: TestClient, token: str) -> None:
    assert_error(get_me(client, token), 401, "invalid_token")


def test_an_empty_bearer_token_is_not_authenticated(client: TestClient) -> None:
    response = client.get("/users/me", headers={"Authorization": "Bearer "})
    assert_error(response, 401, "not_authenticated")


def test_the_token_of_a_deactivated_user_is_rejected(
    client: TestClient, deactivated_user: Account
) -> None:
    assert_error(get_me(client, deactivated_user.token), 401, "invalid_token")


def test_a_login_name_longer_than_an_email_is_a_422(client: TestClient) -> None:
    """Unknown names are rate-limit keys for a while: they may not be megabytes long."""
    form = {"username": "a" * 321, "password": "whatever it is"}
    assert_error(client.post("/auth/login", data=form), 422, "validation_error")
    form = {"username": "a" * 320, "password": "whatever it is"}
    assert_error(client.post("/auth/login", data=form), 400, "invalid_credentials")


def test_routes_answer_503_when_the_database_is_unreachable(client: TestClient) -> None:
    with an_unreachable_database(app):
        assert_error(client.get("/users"), 503, "database_unavailable")
        login = client.post("/auth/login", data={"username": "ada", "password": PASSWORD})
        assert_error(login, 503, "database_unavailable")


def test_a_hash_verifies_its_password_only() -> None:
    password_hash = hash_password("correct horse")
    assert verify_password("correct horse", password_hash)
    assert not verify_password("correct horsE", password_hash)


def test_a_password_bcrypt_would_truncate_never_verifies() -> None:
    assert not verify_password("a" * 73, hash_password("a" * 72))


def test_a_token_decodes_to_its_user_id_and_token_version() -> None:
    claims = decode_access_token(create_access_token(42, 7))
    assert claims is not None
    assert (claims.user_id, claims.token_version) == (42, 7)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "42"},  # no version
        {"sub": "0", "ver": 0},  # no id is 0
        {"sub": "-5", "ver": 0},
        {"sub": str(2**31), "ver": 0},  # more than an id column holds
        {"sub": "ada", "ver": 0},
        {"sub": "42", "ver": "new"},
    ],
)
def test_a_signed_token_with_unusable_claims_is_invalid(claims: dict[str, object]) -> None:
    assert decode_access_token(signed(claims)) is None


def test_a_garbage_token_is_invalid() -> None:
    assert decode_access_token("not.a.token") is None


def signed(claims: dict[str, object]) -> str:
    fresh = {"iat": utc_now(), "exp": utc_now() + timedelta(minutes=5), **claims}
    return jwt.encode(fresh, settings.jwt_secret_value, algorithm=settings.jwt_algorithm)


def get_me(client: TestClient, token: str):  # type: ignore[no-untyped-def]
    return client.get("/users/me", headers={"Authorization": f"Bearer {token}"})


def test_an_account_stored_before_the_rule_still_signs_in(
    client: TestClient, session: Session
) -> None:
    """The rule is for new addresses: an address stored earlier, as it was typed, still works."""
    client.post(
        "/auth/register", json={"email": "a@b.test", "username": "jorg", "password": PASSWORD}
    )
    account = session.exec(select(User)).one()
    account.email = "j\u00f6rg@example.com"  # as the app stored it before the rule
    session.add(account)
    session.commit()
    form = {"username": "j\u00f6rg@example.com", "password": PASSWORD}
    assert client.post("/auth/login", data=form).status_code == 200
