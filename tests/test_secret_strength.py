"""Production refuses a weak JWT_SECRET by its estimated entropy, not by its length."""

import secrets
import string
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from blog.config import Settings
from blog.secret_strength import MIN_SECRET_BITS, entropy_bits, one_copy

LETTERS_AND_DIGITS = string.ascii_letters + string.digits


def railway_like_secret() -> str:
    """What Railway's `${{secret(32)}}` makes: 32 random letters and digits."""
    return "".join(secrets.choice(LETTERS_AND_DIGITS) for _ in range(32))


def production(secret: str) -> Settings:
    return Settings(_env_file=None, environment="production", jwt_secret=secret)


GENERATORS: dict[str, Callable[[], str]] = {
    "openssl rand -hex 32": lambda: secrets.token_hex(32),
    "secrets.token_urlsafe(32)": lambda: secrets.token_urlsafe(32),
    "Railway's secret(32)": railway_like_secret,
}


@pytest.mark.parametrize("generator", GENERATORS)
def test_generated_secrets_pass(generator: str) -> None:
    for _ in range(200):
        secret = GENERATORS[generator]()
        assert entropy_bits(secret) >= MIN_SECRET_BITS, secret
        assert production(secret).jwt_secret_value == secret


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 32,
        "a" * 40,
        "ab" * 20,
        "password" * 4,
        "Password123!" * 3,
        "iloveyou" * 4,  # a common password, repeated to length
        "00000000000000000000000000000001",
    ],
)
def test_weak_secrets_are_refused_with_a_line_that_says_how_to_make_one(secret: str) -> None:
    with pytest.raises(ValidationError) as refused:
        production(secret)
    [problem] = refused.value.errors()
    assert "too weak for production" in problem["msg"]
    assert "secrets.token_urlsafe(32)" in problem["msg"]
    assert secret not in str(refused.value)


def test_a_repeat_counts_once() -> None:
    assert one_copy("passwordpassword") == "password"
    assert one_copy("abcabca") == "abc"
    assert one_copy("abcd") == "abcd"
    assert entropy_bits("") == 0.0
