"""Account rules: what makes an account valid to store, and what ends its tokens.

Lesson: the routes in `router.py` say *what* happens to an account; the rules they share live here.
An email and a username belong to one account each: checked before writing, for a clear 409, and
enforced by the database's unique constraints for the race two simultaneous requests could still
win. Ending every token of an account (logout, a password change, a reset) moves its token version
on; later lessons make it spend the account's reset tokens and close its notification sockets too.
Re-entering the current password (a password or email change) counts as a login attempt once
logins are rate limited, so a stolen token cannot guess it freely.
"""

from fastapi import BackgroundTasks  # step 7
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import (
    Session,
    col,  # step 7
    delete,  # step 17
    select,
    update,  # step 7
)

from blog.errors import (
    EmailTaken,
    InvalidToken,
    ServerBusy,
    UsernameTaken,
    WrongPassword,  # step 7
)
from blog.hub import hub  # step 18
from blog.mail import send_security_email  # step 8
from blog.rate_limits import Counters, count_login_attempt, forget_login_attempts  # step 16
from blog.security import (
    create_access_token,
    verify_password,  # step 7
)
from blog.users.models import (
    PasswordResetToken,  # step 17
    Token,
    User,
)


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


# Every token issued to `user` so far stops working once this is committed. The version moves
# on in SQL (`token_version + 1`), not from the value this request read: a logout and a login in
# between must not end up with the very version written here. Call it before changing `user`:
# its UPDATE first flushes what is pending.
def end_every_token(  # step 7
    session: Session,  # step 7
    user: User,  # step 7
    background_tasks: BackgroundTasks,  # step 7
) -> None:  # step 7
    assert user.id is not None  # step 7
    next_version = User.token_version + 1  # step 7
    by_id = col(User.id) == user.id  # step 7
    moved = session.exec(update(User).where(by_id).values(token_version=next_version))  # step 7
    if moved.rowcount == 0:  # step 7
        raise InvalidToken("The account was deleted.")  # step 7
    # Reset tokens emailed before end too.
    forget_reset_tokens(session, user)  # step 17
    # So do its notification sockets, after the response, on every process.
    background_tasks.add_task(hub.sign_out, user.id)  # step 18


# Every reset token of the account stops working (the caller commits): after a reset, a logout,
# a password change or a new email, an older email must not open the account.
def forget_reset_tokens(session: Session, user: User) -> None:  # step 17
    of_the_account = col(PasswordResetToken.user_id) == user.id  # step 17
    session.exec(delete(PasswordResetToken).where(of_the_account))  # step 17


# 400 `wrong_password` unless `password` is the account's. Once logins are limited, guesses
# count against the account's login limit (429 after `LOGIN_MAX_FAILURES`).
def check_current_password(  # step 7
    user: User,  # step 7
    password: str | None,  # step 7
    wrong: str,  # step 7
    *,  # step 16
    counters: Counters,  # step 16
    client: str,  # step 16
) -> None:  # step 7
    # The key `login` counts this account's failures under.
    account = f"user:{user.id}"  # step 16
    count_login_attempt(counters, account, client)  # step 16
    if password is None or not verify_password(password, user.password_hash):  # step 7
        raise WrongPassword(wrong)  # step 7
    forget_login_attempts(counters, account, client)  # step 16


# The account's address hears of a change, after the response: what changed, and what to do if
# it was not its owner (the caller passes the address it had before the change).
def tell_the_owner(background_tasks: BackgroundTasks, user: User, what: str) -> None:  # step 8
    assert user.id is not None  # step 8
    send = send_security_email  # step 8
    background_tasks.add_task(send, user.id, user.email, user.username, what)  # step 8
