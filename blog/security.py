"""Passwords and tokens: bcrypt hashes and signed JWTs, the two halves of authentication.

Lesson: a password is never stored, only its bcrypt hash (slow on purpose, `BCRYPT_ROUNDS`); a login
proves the password once and is exchanged for a short-lived JWT whose signature the server checks on
every request; the token also carries the account's token version, so that logging out can end it
before it expires. bcrypt reads at most 72 bytes, so longer passwords are refused, never silently
cut. This module knows nothing about users or HTTP: it hashes, verifies, signs and decodes (how
many hashes run at once is `blog/capacity.py`'s business).
"""

from datetime import timedelta
from functools import cache  # step 6

import bcrypt
import jwt
from pydantic import (
    BaseModel,  # step 6
    Field,  # step 6
    ValidationError,  # step 6
)

from blog.config import settings
from blog.database import (
    MAX_ID,  # step 6
    utc_now,
)

MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after the 72nd byte


# "surrogatepass": a lone surrogate is no UTF-8 text; its bytes match no stored password.
def password_fits_bcrypt(password: str) -> bool:  # step 6
    return len(password.encode("utf-8", "surrogatepass")) <= MAX_PASSWORD_BYTES  # step 6


def hash_password(password: str) -> str:
    # Past 72 bytes bcrypt raises ValueError rather than hash a cut password; requests never get
    # here with one (the `Password` type refuses it with a 422).
    salt = bcrypt.gensalt(rounds=settings.bcrypt_rounds)
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:  # step 6
    """True if `password` matches; a password bcrypt cannot hash simply does not match."""  # step 6
    if not password_fits_bcrypt(password):  # step 6
        return False  # step 6
    given = password.encode("utf-8", "surrogatepass")  # step 6
    return bcrypt.checkpw(given, password_hash.encode("ascii"))  # step 6


# A hash to verify against when an account does not exist, so that "no such user" takes as long
# as "wrong password" and an attacker cannot time which emails are registered.
@cache  # step 6
def dummy_password_hash() -> str:  # step 6
    return hash_password("not-a-real-password")  # step 6


# What a valid token says, validated like any input: whose it is (`sub`, an id the database can
# hold), and the account's token version when it was made (`ver`).
class TokenClaims(BaseModel):  # step 6
    user_id: int = Field(alias="sub", ge=1, le=MAX_ID)  # step 6
    token_version: int = Field(alias="ver")  # step 6


def create_access_token(user_id: int, token_version: int) -> str:
    issued_at = utc_now()
    expires_at = issued_at + timedelta(minutes=settings.jwt_expires_minutes)
    claims = {"sub": str(user_id), "ver": token_version, "iat": issued_at, "exp": expires_at}
    return jwt.encode(claims, settings.jwt_secret_value, algorithm=settings.jwt_algorithm)


# What a valid token says; None for an expired, forged or malformed one (whether its version is
# still the account's is for `get_current_user` in `blog/deps.py`).
def decode_access_token(token: str) -> TokenClaims | None:  # step 6
    try:  # step 6
        claims = jwt.decode(  # step 6
            token,  # step 6
            settings.jwt_secret_value,  # step 6
            # Only the configured algorithm: a token claiming `alg: none` (or anything else) fails.
            algorithms=[settings.jwt_algorithm],  # step 6
            options={"require": ["sub", "ver", "iat", "exp"]},  # step 6
        )  # step 6
        return TokenClaims.model_validate(claims)  # step 6
    except (jwt.PyJWTError, ValidationError):  # step 6
        return None  # step 6
