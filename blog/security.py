"""Passwords and tokens: bcrypt hashes and signed JWTs, the two halves of authentication.

Lesson: a password is never stored, only its bcrypt hash (slow on purpose, `BCRYPT_ROUNDS`); a login
proves the password once and is exchanged for a short-lived JWT whose signature the server checks on
every request; the token also carries the account's token version, so that logging out can end it
before it expires. bcrypt reads at most 72 bytes, so longer passwords are refused, never silently
cut. This module knows nothing about users or HTTP: it hashes, verifies, signs and decodes (how
many hashes run at once is `blog/capacity.py`'s business).
"""

from datetime import timedelta
from functools import cache

import bcrypt
import jwt
from pydantic import BaseModel, Field, ValidationError

from blog.config import settings
from blog.database import MAX_ID, utc_now

MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after the 72nd byte


def password_fits_bcrypt(password: str) -> bool:
    # "surrogatepass": a lone surrogate is no UTF-8 text; its bytes match no stored password.
    return len(password.encode("utf-8", "surrogatepass")) <= MAX_PASSWORD_BYTES


def hash_password(password: str) -> str:
    # Past 72 bytes bcrypt raises ValueError rather than hash a cut password; requests never get
    # here with one (the `Password` type refuses it with a 422).
    salt = bcrypt.gensalt(rounds=settings.bcrypt_rounds)
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True if `password` matches; a password bcrypt cannot hash simply does not match."""
    if not password_fits_bcrypt(password):
        return False
    return bcrypt.checkpw(password.encode("utf-8", "surrogatepass"), password_hash.encode("ascii"))


@cache
def dummy_password_hash() -> str:
    """A hash to verify against when an account does not exist, so that "no such user" takes as
    long as "wrong password" and an attacker cannot time which emails are registered."""
    return hash_password("not-a-real-password")


class TokenClaims(BaseModel):
    """What a valid token says, validated like any input: whose it is (`sub`, an id the database
    can hold), and the account's token version when it was made (`ver`)."""

    user_id: int = Field(alias="sub", ge=1, le=MAX_ID)
    token_version: int = Field(alias="ver")


def create_access_token(user_id: int, token_version: int) -> str:
    issued_at = utc_now()
    expires_at = issued_at + timedelta(minutes=settings.jwt_expires_minutes)
    claims = {"sub": str(user_id), "ver": token_version, "iat": issued_at, "exp": expires_at}
    return jwt.encode(claims, settings.jwt_secret_value, algorithm=settings.jwt_algorithm)


def decode_access_token(token: str) -> TokenClaims | None:
    """What a valid token says; None for an expired, forged or malformed one (whether its
    version is still the account's is for `get_current_user` in `blog/deps.py`)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret_value,
            # Only the configured algorithm: a token claiming `alg: none` (or anything else) fails.
            algorithms=[settings.jwt_algorithm],
            options={"require": ["sub", "ver", "iat", "exp"]},
        )
        return TokenClaims.model_validate(claims)
    except (jwt.PyJWTError, ValidationError):
        return None
