"""Passwords and tokens: bcrypt hashes and signed JWTs, the two halves of authentication.

Lesson: a password is never stored, only its bcrypt hash (slow on purpose, `BCRYPT_ROUNDS`); a login
proves the password once and is exchanged for a short-lived JWT whose signature the server checks on
every request; the token also carries the account's token version, so that logging out can end it
before it expires. bcrypt reads at most 72 bytes, so longer passwords are refused, never silently
cut, and only a few hashes run at once so that a flood of logins cannot take every core.
This module knows nothing about users or HTTP: it hashes, verifies, signs and decodes.
"""

import os
import threading
from datetime import timedelta
from functools import cache
from typing import NamedTuple

import bcrypt
import jwt

from blog.config import settings
from blog.database import utc_now

MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after the 72nd byte

# bcrypt is slow on purpose and lets go of Python's lock while it works, so every thread of the
# server's pool could hash at once and take every core: a flood of logins would starve every other
# request. At most this many hashes run at a time per process; the rest wait their turn, leaving
# at least one core (on two or more) for everything else.
BCRYPT_SLOTS = max(1, (os.cpu_count() or 2) // 2)
bcrypt_slots = threading.BoundedSemaphore(BCRYPT_SLOTS)


def password_fits_bcrypt(password: str) -> bool:
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text, so no stored password matches
        return False
    return size <= MAX_PASSWORD_BYTES


def hash_password(password: str) -> str:
    if not password_fits_bcrypt(password):
        raise ValueError(f"passwords are limited to {MAX_PASSWORD_BYTES} bytes")
    salt = bcrypt.gensalt(rounds=settings.bcrypt_rounds)
    with bcrypt_slots:
        return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True if `password` matches; a password bcrypt cannot hash simply does not match."""
    if not password_fits_bcrypt(password):
        return False
    with bcrypt_slots:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))


@cache
def dummy_password_hash() -> str:
    """A hash to verify against when an account does not exist, so that "no such user" takes as
    long as "wrong password" and an attacker cannot time which emails are registered."""
    return hash_password("not-a-real-password")


class InvalidTokenError(Exception):
    """The token is expired, forged, malformed or otherwise unusable."""


class TokenClaims(NamedTuple):
    """What a valid token says: whose it is, and the account's token version when it was made."""

    user_id: int
    token_version: int


def create_access_token(user_id: int, token_version: int) -> str:
    issued_at = utc_now()
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "iat": issued_at,
        "exp": issued_at + timedelta(minutes=settings.jwt_expires_minutes),
    }
    return jwt.encode(claims, settings.jwt_secret_value, algorithm=settings.jwt_algorithm)


def decode_access_token(token: str) -> TokenClaims:
    """The claims of a valid token (whether they are still current is for `blog/deps.py`)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret_value,
            # Only the configured algorithm: a token claiming `alg: none` (or anything else) fails.
            algorithms=[settings.jwt_algorithm],
            options={"require": ["sub", "ver", "iat", "exp"]},
        )
        return TokenClaims(int(claims["sub"]), int(claims["ver"]))
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidTokenError(str(error)) from error
