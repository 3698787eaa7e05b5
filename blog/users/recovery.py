"""Account recovery: password-reset tokens, random, stored hashed, short-lived and single-use.

Lesson: a reset token is a password for one use, so it is treated like one. It is 32 random bytes
from `secrets` (256 bits: nobody guesses it), sent only by email, and stored only as its SHA-256;
a fast hash is enough here because, unlike a person's password, the token is too random to try
every value (bcrypt is for secrets people choose). It works for `PASSWORD_RESET_MINUTES`, and once:
`claim_reset_token` deletes the row it matched with a DELETE whose row count says who won, so two
requests with the same token cannot both use it. Using one deletes every other token of the account.
`send_password_reset` runs as a background task, after the 202 has gone out: the request itself
does the same work for every address, so neither its answer nor its timing says which emails have
an account.
"""

import hashlib
import logging
import re
import secrets
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, delete, select

from blog.config import settings
from blog.database import utc_now
from blog.errors import InvalidResetToken
from blog.mail import send_password_reset_email
from blog.users.models import PasswordResetToken, User

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
# What `secrets.token_urlsafe(32)` returns: 43 characters of URL-safe base64.
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")


INVALID_RESET_TOKEN = "The reset token is invalid, used or expired. Ask for a new one."


def hash_reset_token(token: str) -> str:
    """The SHA-256 (hex) stored for `token`; 400 for anything that is not a token we make."""
    if not TOKEN_FORMAT.fullmatch(token):
        raise InvalidResetToken(INVALID_RESET_TOKEN)
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_reset_token(session: Session, user_id: int) -> str:
    """A new token for `user_id`, stored hashed (the caller commits)."""
    # Housekeeping: expired tokens (anyone's) are of no use; they go whenever one is made.
    session.exec(delete(PasswordResetToken).where(col(PasswordResetToken.expires_at) <= utc_now()))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = utc_now() + timedelta(minutes=settings.password_reset_minutes)
    session.add(
        PasswordResetToken(
            user_id=user_id, token_hash=hash_reset_token(token), expires_at=expires_at
        )
    )
    return token


def send_password_reset(engine: Engine, email: str) -> None:
    """The background half of `POST /auth/password-reset`: if an active account has `email`,
    store a new token and email it; otherwise do nothing. Never raises: the 202 is long gone."""
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.email == email)).first()
            if user is None or not user.is_active or user.id is None:
                return
            token = issue_reset_token(session, user.id)
            session.commit()
            user_id, username = user.id, user.username
    except SQLAlchemyError as error:
        logger.error("password reset not started, the database failed: %r", error)
        return
    send_password_reset_email(user_id, email, username, token)


def account_for_reset_token(session: Session, token: str) -> tuple[PasswordResetToken, User]:
    """The unexpired token row `token` matches, and its account; 400 otherwise."""
    found = session.exec(
        select(PasswordResetToken, User)
        .join(User, col(User.id) == PasswordResetToken.user_id)
        .where(
            PasswordResetToken.token_hash == hash_reset_token(token),
            col(PasswordResetToken.expires_at) > utc_now(),
            col(User.is_active),
        )
    ).first()
    if found is None:
        raise InvalidResetToken(INVALID_RESET_TOKEN)
    reset, user = found
    return reset, user


def claim_reset_token(session: Session, reset: PasswordResetToken) -> None:
    """Spend `reset` (the caller commits; ending the account's tokens, `end_every_token` in
    the router, spends the others). If another request spent it first, the answer is 400."""
    claimed = session.exec(delete(PasswordResetToken).where(col(PasswordResetToken.id) == reset.id))
    if claimed.rowcount == 0:
        session.rollback()
        raise InvalidResetToken(INVALID_RESET_TOKEN)


def forget_reset_tokens(session: Session, user: User) -> None:
    """Every reset token of the account stops working (the caller commits): after a reset, a
    logout, a password change or a new email, an older email must not open the account."""
    session.exec(delete(PasswordResetToken).where(col(PasswordResetToken.user_id) == user.id))
