"""Account recovery: `/auth/password-reset`, by tokens random, hashed, short-lived, used once.

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
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, status
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, delete, select

from blog.addresses import ClientAddress
from blog.capacity import take_password_hash_slot
from blog.config import settings
from blog.database import get_engine, utc_now
from blog.deps import SessionDep
from blog.errors import InvalidResetToken, InvalidToken, error_responses
from blog.mail import deliver, email_to
from blog.races import commit_or_gone
from blog.rate_limits import (
    Counters,
    RateLimitCounters,
    count_or_refuse,
    refuse_when_used_up,
)
from blog.security import hash_password
from blog.users.accounts import end_every_token, tell_the_owner
from blog.users.models import Email, PasswordResetToken, User
from blog.users.passwords import Password, refuse_personal_password

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
# What `secrets.token_urlsafe(32)` returns: 43 characters of URL-safe base64.
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")


INVALID_RESET_TOKEN = "The reset token is invalid, used or expired. Ask for a new one."

router = APIRouter(prefix="/auth", tags=["auth"])


class PasswordResetRequest(SQLModel):
    model_config = {"json_schema_extra": {"examples": [{"email": "ada@example.com"}]}}

    email: Email


class PasswordResetRequested(SQLModel):
    """The same answer whether or not an account has the email: the API does not say which."""

    model_config = {"json_schema_serialization_defaults_required": True}
    detail: str = (
        "If an account has this email, a password-reset token is on its way to it. "
        "Send it to POST /auth/password-reset/confirm with your new password."
    )


class PasswordResetConfirm(SQLModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "token": "paste the token from the email here (43 characters)",
                    "new_password": "battery staple 42",
                }
            ]
        }
    }

    # Any string: a token of the wrong length or alphabet is an invalid token (400), like a
    # well-formed one that matches nothing, not a validation error.
    token: str
    new_password: Password


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


def send_password_reset_email(user_id: int, to: str, username: str, token: str) -> None:
    """Send (or, with the console backend, log) a password-reset token; never raise."""
    minutes = settings.password_reset_minutes
    values = {"username": username, "token": token, "minutes": minutes}
    reset = email_to(to, "Reset your blog password", "password_reset", **values)
    deliver(user_id, reset, "password reset email")


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


def count_password_reset(counters: Counters, email: str, client: str) -> None:
    """Count a reset request for `email` from `client`, or 429 once either has had its share
    this hour: one client cannot flood many inboxes, many clients cannot flood one."""
    per_client = RateLimitItemPerHour(settings.password_reset_max_per_client)
    count_or_refuse(counters, per_client, ["reset", "client", client], "password-reset requests")
    per_email = RateLimitItemPerHour(settings.password_reset_max_per_email)
    count_or_refuse(counters, per_email, ["reset", email], "password-reset requests")


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400, 413, 422, 429),
)
def request_password_reset(
    payload: PasswordResetRequest,
    background_tasks: BackgroundTasks,
    client: ClientAddress,
    counters: RateLimitCounters,
    engine: Annotated[Engine, Depends(get_engine)],
) -> PasswordResetRequested:
    """If an account has this email, a token that resets its password is emailed to it. The
    answer is the same either way, and so is the time it takes: the lookup happens after the
    answer has gone. Limited per email and per client (429)."""
    count_password_reset(counters, payload.email, client)
    background_tasks.add_task(send_password_reset, engine, payload.email)
    return PasswordResetRequested()


def confirm_limit() -> RateLimitItem:
    failures = settings.password_reset_confirm_max_failures
    return RateLimitItemPerSecond(failures, settings.password_reset_confirm_window_seconds)


def refuse_a_token_guesser(counters: RateLimitCounters, client: ClientAddress) -> None:
    """429 for a client that has sent its share of made-up or spent tokens: first, so a refused
    one waits for no hash slot."""
    key = ["reset-confirm", client]
    refuse_when_used_up(counters, confirm_limit(), key, "invalid reset tokens from this address")


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[
        Depends(refuse_a_token_guesser),
        Depends(take_password_hash_slot, scope="function"),
    ],
    responses=error_responses(400, InvalidResetToken, 413, 422, 429),
)
def confirm_password_reset(
    payload: PasswordResetConfirm,
    session: SessionDep,
    background_tasks: BackgroundTasks,
    client: ClientAddress,
    counters: RateLimitCounters,
) -> None:
    """Set a new password with an emailed token. The token works once; using it ends every
    other reset token and every session of the account (log in with the new password).
    400 `invalid_reset_token` for an unknown, used or expired token; 422 for a password that
    breaks the rules, and then the token stays unspent. A client's made-up or spent tokens are
    counted: past `PASSWORD_RESET_CONFIRM_MAX_FAILURES` in the window, 429."""
    try:
        reset, user = account_for_reset_token(session, payload.token)
    except InvalidResetToken:
        # Counted and checked in one step: of many sent at once, those past the share are 429s.
        key = ["reset-confirm", client]
        count_or_refuse(counters, confirm_limit(), key, "invalid reset tokens from this address")
        raise
    refuse_personal_password(
        payload.new_password, "new_password", username=user.username, email=user.email
    )
    password_hash = hash_password(payload.new_password)
    claim_reset_token(session, reset)
    end_every_token(session, user, background_tasks)
    user.password_hash = password_hash
    commit_or_gone(session, user, InvalidToken("The account was deleted."))
    tell_the_owner(background_tasks, user, "Your password was reset")
