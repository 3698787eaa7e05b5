"""The API checked against its own OpenAPI document, by schemathesis.

Lesson: an OpenAPI document is a promise, and a machine can hold the app to it. schemathesis reads
`/openapi.json`, generates requests for every operation (valid ones, and invalid ones: wrong types,
odd unicode, missing fields, huge numbers) and checks each answer with all of its default checks:
no server errors, only documented status codes, bodies and headers that match their schemas,
valid data accepted, invalid data rejected, authentication not ignored. Each case is sent signed
in as a user who exists (a case of `DELETE /users/me` gets a user of its own to delete).

It runs on the suite's database (in-memory SQLite, or a fresh PostgreSQL database with
TEST_DATABASE_URL), with a fixed random seed so CI is repeatable.

One check, "valid data accepted", is left out for four operations, where data the schema allows
is rightly refused for reasons a schema cannot say: a new password must be 8 to 72 bytes of UTF-8
(JSON Schema counts characters), not a common password and not the account's username or email
(register, password change, reset confirm: a 30-character password of 4-byte emoji is a 422); a
reset token must be one the app emailed (a random one is a 400); and a new email needs the right
`current_password` (`PATCH /users/me`, 400 without it).
"""

import itertools
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import Engine
from sqlmodel import Session

from blog.config import settings as blog_settings
from blog.database import get_engine, get_session
from blog.main import app
from tests.helpers import PASSWORD, database_of_its_own

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
pytestmark = pytest.mark.slow  # about 15 s; `pytest -m "not slow"` skips it while you work

EXAMPLES_PER_OPERATION = 100
SCHEMA_VALID_MAY_BE_REFUSED = {
    ("POST", "/auth/register"),
    ("POST", "/users/me/password"),
    ("POST", "/auth/password-reset/confirm"),
    ("PATCH", "/users/me"),
}
# These end every token of the account they are sent for, so each case gets its own account.
ENDS_THE_ACCOUNTS_TOKENS = {
    ("DELETE", "/users/me"),
    ("POST", "/users/me/password"),
    ("POST", "/auth/logout"),
}
contract_users = itertools.count()


@pytest.fixture(scope="module")
def contract_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with database_of_its_own(tmp_path_factory.mktemp("contract") / "blog.db") as engine:
        yield engine


@pytest.fixture(scope="module")
def contract_client(contract_engine: Engine) -> Iterator[TestClient]:
    # Hundreds of accounts from one address: the registration limit (tests/test_rate_limits.py)
    # would stop the run long before schemathesis is done.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blog_settings, "register_max_per_client", 100_000)
        patch.setattr(blog_settings, "password_reset_max_per_client", 100_000)
        patch.setattr(blog_settings, "password_reset_max_per_email", 100_000)
        # As conftest.py's `client`, for the whole module: a client per case would be slower.
        app.dependency_overrides[get_session] = partial(sessions_on, contract_engine)
        app.dependency_overrides[get_engine] = lambda: contract_engine
        with TestClient(app) as client:
            yield client
        app.dependency_overrides.clear()


def sessions_on(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def new_user(client: TestClient) -> dict[str, str]:
    """A bearer header for a new user."""
    while True:
        name = f"contract_{next(contract_users)}"
        account = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        response = client.post("/auth/register", json=account)
        if response.status_code == 201:
            return {"Authorization": f"Bearer {response.json()['access_token']}"}
        assert response.status_code == 409, response.text  # a case happened to take the name


@pytest.fixture(scope="module")
def contract_user(contract_client: TestClient) -> dict[str, str]:
    """The user most cases are signed in as (renaming them keeps the token valid; the cases
    that end the account's tokens get a user of their own)."""
    return new_user(contract_client)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case[Any], contract_client: TestClient, contract_user: dict[str, str]
) -> None:
    operation = (case.method.upper(), case.path)
    headers = new_user(contract_client) if operation in ENDS_THE_ACCOUNTS_TOKENS else contract_user
    left_out = [positive_data_acceptance] if operation in SCHEMA_VALID_MAY_BE_REFUSED else []
    case.call_and_validate(headers=headers, excluded_checks=left_out)
