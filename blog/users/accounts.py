"""Account rules: what makes an account valid to store, and what ends its tokens.

Lesson: the routes in `router.py` say *what* happens to an account; the rules they share live here.
An email and a username belong to one account each: checked before writing, for a clear 409, and
enforced by the database's unique constraints for the race two simultaneous requests could still
win. Ending every token of an account (logout, a password change, a reset) moves its token version
on, spends its reset tokens and closes its notification sockets. Re-entering the current password
(a password or email change) counts as a login attempt, so a stolen token cannot guess it freely.
"""

from fastapi import BackgroundTasks
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select, update

from blog.errors import EmailTaken, InvalidToken, ServerBusy, UsernameTaken, WrongPassword
from blog.hub import hub
from blog.rate_limits import Counters, count_login_attempt, forget_login_attempts
from blog.security import create_access_token, verify_password
from blog.users.models import Token, User
from blog.users.recovery import forget_reset_tokens


def ensure_available(session: Session, email: str, username: str, user_id: int | None) -> None:
    """409 if an account other than `user_id` has this email or (any case) this username."""
    others = select(User).where(User.id != user_id)
    with session.no_autoflush:  # the changes being checked are not written yet
        if session.exec(others.where(User.email == email)).first():
            raise EmailTaken("That email is already registered.")
        if session.exec(others.where(User.username_key == username.lower())).first():
            raise UsernameTaken("That username is taken.")


def save_account(session: Session, user: User) -> None:
    """Commit `user` if its email and username are free, else 409: also when a simultaneous
    request took one between the check and the commit (the unique constraints refuse it)."""
    email, username, user_id = user.email, user.username, user.id  # a rollback expires them
    ensure_available(session, email, username, user_id)
    session.add(user)
    try:
        session.commit()
    except StaleDataError:  # the account was deleted by another request meanwhile
        raise InvalidToken("The account was deleted.") from None
    except IntegrityError:
        session.rollback()
        ensure_available(session, email, username, user_id)  # the 409 for whoever took it first
        raise ServerBusy("The account changed meanwhile. Try again.") from None


def token_for(user: User) -> Token:
    assert user.id is not None  # a stored user has one
    return Token(access_token=create_access_token(user.id, user.token_version))


def end_every_token(session: Session, user: User, background_tasks: BackgroundTasks) -> None:
    """Every token issued to `user` so far stops working once this is committed, reset tokens
    included, and their notification sockets close (after the response, on every process).

    The version moves on in SQL (`token_version + 1`), not from the value this request read: a
    logout and a login in between must not end up with the very version written here. Call it
    before changing `user`: its UPDATE first flushes what is pending.
    """
    assert user.id is not None
    moved = session.exec(
        update(User).where(col(User.id) == user.id).values(token_version=User.token_version + 1)
    )
    if moved.rowcount == 0:
        raise InvalidToken("The account was deleted.")
    forget_reset_tokens(session, user)
    background_tasks.add_task(hub.sign_out, user.id)


def check_current_password(
    counters: Counters, client: str, user: User, password: str | None, wrong: str
) -> None:
    """400 `wrong_password` unless `password` is the account's. Guesses count against the
    account's login limit (429 after `LOGIN_MAX_FAILURES`)."""
    account = f"user:{user.id}"  # the key `login` counts this account's failures under
    count_login_attempt(counters, account, client)
    if password is None or not verify_password(password, user.password_hash):
        raise WrongPassword(wrong)
    forget_login_attempts(counters, account, client)
