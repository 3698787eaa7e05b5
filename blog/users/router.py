"""Accounts: register, log in, and read or change your own profile (`/auth/*`, `/users/*`).

Lesson: authentication end to end. Registration validates input (see `models.py`), hashes the
password and answers with a token; login checks a password form (so Swagger UI's Authorize button
works) and spends the same bcrypt time whether or not the account exists; both are rate limited
(`blog/rate_limits.py`). Routes that take `CurrentUser` only run for a valid token; logging out
and changing the password end every token of the account, and moving the account to a new email
asks for the password again (re-authentication: a stolen token is not enough). A forgotten
password is reset by email (`recovery.py`). Uniqueness is checked before writing for a clear 409,
and enforced by the database for the race two simultaneous requests could still win.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, or_, select, update

from blog.database import get_session_factory
from blog.deps import (
    CurrentUser,
    IdPath,
    Page,
    Pagination,
    SessionDep,
    commit_or_gone,
    delete_or_gone,
    lost_race,
    page_total,
    total_up_to_cap,
)
from blog.errors import BadRequest, Conflict, InvalidToken, NotFound, error_responses
from blog.mail import send_welcome_email
from blog.rate_limits import (
    ClientAddress,
    Counters,
    RateLimitCounters,
    count_login_attempt,
    count_password_reset,
    count_registration,
    forget_login_attempts,
)
from blog.realtime import hub
from blog.security import create_access_token, dummy_password_hash, hash_password, verify_password
from blog.users.models import (
    LoginForm,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    PasswordResetRequested,
    Token,
    User,
    UserPrivate,
    UserPublic,
    UserRegister,
    UserUpdateMe,
)
from blog.users.passwords import refuse_personal_password
from blog.users.recovery import (
    account_for_reset_token,
    claim_reset_token,
    forget_reset_tokens,
    invalid_reset_token,
    send_password_reset,
)

auth_router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(503))
users_router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(503))


def ensure_available(
    session: Session, *, email: str | None, username: str | None, current_user_id: int | None = None
) -> None:
    """409 if another account already has this email or (case-insensitively) this username."""
    others = select(User).where(User.id != current_user_id) if current_user_id else select(User)
    if email is not None and session.exec(others.where(User.email == email)).first():
        raise Conflict("That email is already registered.", code="email_taken")
    username_key = username.lower() if username is not None else None
    if username_key and session.exec(others.where(User.username_key == username_key)).first():
        raise Conflict("That username is taken.", code="username_taken")


def commit_unique(session: Session, user: User, current_user_id: int | None = None) -> None:
    """Commit `user`; if a concurrent request took the email or username first, answer 409."""
    email, username = user.email, user.username  # a rollback expires them
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        ensure_available(session, email=email, username=username, current_user_id=current_user_id)
        raise
    except StaleDataError:  # the account was deleted by another request meanwhile
        session.rollback()
        raise InvalidToken("The account was deleted.") from None


def token_for(user: User) -> Token:
    assert user.id is not None  # a stored user has one
    return Token(access_token=create_access_token(user.id, user.token_version))


def end_every_token(session: Session, user: User, background_tasks: BackgroundTasks) -> None:
    """Every token issued to `user` so far stops working once this is committed, reset tokens
    included, and their notification sockets close (after the response, on every process).

    The version moves on in SQL (`token_version + 1`), not from the value this request read: a
    logout and a login in between must not end up with the very version written here.
    """
    assert user.id is not None
    moved = session.exec(
        update(User).where(col(User.id) == user.id).values(token_version=User.token_version + 1)
    )
    if moved.rowcount == 0:  # the account was deleted by another request meanwhile
        raise lost_race(session, user.id, InvalidToken("The account was deleted."))
    forget_reset_tokens(session, user.id)
    background_tasks.add_task(hub.sign_out, user.id)


def check_current_password(
    counters: Counters, client: str, user: User, password: str | None, wrong: str
) -> None:
    """400 `wrong_password` unless `password` is the account's. Guesses count against the
    account's login limit (429 after `LOGIN_MAX_FAILURES`): a stolen token must not be a way
    to try passwords without limit."""
    account = f"user:{user.id}"  # the key `login` counts this account's failures under
    count_login_attempt(counters, account, client)
    if password is None or not verify_password(password, user.password_hash):
        raise BadRequest(wrong, code="wrong_password")
    forget_login_attempts(counters, account, client)


@auth_router.post(
    "/register",
    summary="Register a new account",
    status_code=status.HTTP_201_CREATED,
    response_model=Token,
    responses=error_responses(400, 409, 413, 422, 429),
)
def register(
    payload: UserRegister,
    session: SessionDep,
    background_tasks: BackgroundTasks,
    client: ClientAddress,
    counters: RateLimitCounters,
) -> Token:
    """Create an account and sign in to it. A welcome email follows (after the response).
    Each address may register `REGISTER_MAX_PER_CLIENT` times an hour (then 429)."""
    count_registration(counters, client)
    refuse_personal_password(
        payload.password, "password", username=payload.username, email=payload.email
    )
    # Hashed before the first query, so no pooled connection waits idle while bcrypt works.
    password_hash = hash_password(payload.password)
    ensure_available(session, email=payload.email, username=payload.username)
    user = User.model_validate(payload, update={"password_hash": password_hash})
    commit_unique(session, user)
    assert user.id is not None
    background_tasks.add_task(send_welcome_email, user.id, user.email, user.username)
    return token_for(user)


@auth_router.post(
    "/login",
    summary="Log in: trade email or username and password for a token",
    response_model=Token,
    responses=error_responses(400, 413, 422, 429),
)
def login(
    form: Annotated[LoginForm, Form()],
    session: SessionDep,
    client: ClientAddress,
    counters: RateLimitCounters,
) -> Token:
    """Exchange an email or username and a password for a bearer token. After
    `LOGIN_MAX_FAILURES` failures for one account from one address, 429 for a while."""
    identifier = form.username.strip().lower()
    user = session.exec(
        select(User).where(or_(User.email == identifier, User.username_key == identifier))
    ).first()
    # By email or by username, one account is one count; an unknown name counts by its text.
    account = f"user:{user.id}" if user is not None else f"name:{identifier}"
    # Done with the database: its connection goes back to the pool before the slow part, so a
    # flood of logins waiting for bcrypt cannot hold every connection that reads need.
    session.close()
    count_login_attempt(counters, account, client)  # before bcrypt: a refused guess costs nothing
    if user is None:
        verify_password(form.password, dummy_password_hash())  # same time as a real check
        password_ok = False
    else:
        password_ok = verify_password(form.password, user.password_hash)
    if user is None or not password_ok or not user.is_active:
        raise BadRequest("Incorrect email/username or password.", code="invalid_credentials")
    forget_login_attempts(counters, account, client)
    return token_for(user)


@auth_router.post(
    "/logout",
    summary="Log out everywhere: end every token of your account",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
)
def logout(user: CurrentUser, session: SessionDep, background_tasks: BackgroundTasks) -> Response:
    """End every token of your account, this one included, on every device; your open
    notification sockets close. Log in again for a new token."""
    end_every_token(session, user, background_tasks)
    commit_or_gone(session, user, InvalidToken("The account was deleted."))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/password-reset",
    summary="Forgot your password? Ask for a reset token by email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetRequested,
    responses=error_responses(400, 413, 422, 429),
)
def request_password_reset(
    payload: PasswordResetRequest,
    background_tasks: BackgroundTasks,
    client: ClientAddress,
    counters: RateLimitCounters,
    open_session: Annotated[Callable[[], Session], Depends(get_session_factory)],
) -> PasswordResetRequested:
    """If an account has this email, a token that resets its password is emailed to it. The
    answer is the same either way, and so is the time it takes: the lookup happens after the
    answer has gone. Limited per email and per client (429)."""
    count_password_reset(counters, payload.email, client)
    background_tasks.add_task(send_password_reset, open_session, payload.email)
    return PasswordResetRequested()


@auth_router.post(
    "/password-reset/confirm",
    summary="Set a new password with the token from the reset email",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 413, 422),
)
def confirm_password_reset(
    payload: PasswordResetConfirm, session: SessionDep, background_tasks: BackgroundTasks
) -> Response:
    """Set a new password with an emailed token. The token works once; using it ends every
    other reset token and every session of the account (log in with the new password).
    400 `invalid_reset_token` for an unknown, used or expired token; 422 for a password that
    breaks the rules, and then the token stays unspent."""
    reset, user = account_for_reset_token(session, payload.token)
    refuse_personal_password(
        payload.new_password, "new_password", username=user.username, email=user.email
    )
    session.commit()  # ends the read transaction: no connection is held while bcrypt works
    new_hash = hash_password(payload.new_password)
    claim_reset_token(session, reset)
    end_every_token(session, user, background_tasks)
    user.password_hash = new_hash
    commit_or_gone(session, user, invalid_reset_token())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get(
    "/me", summary="Read your account", response_model=UserPrivate, responses=error_responses(401)
)
def read_me(user: CurrentUser) -> User:
    """Your own account, email included."""
    return user


@users_router.patch(
    "/me",
    summary="Update your account",
    response_model=UserPrivate,
    responses=error_responses(400, 401, 409, 413, 422, 429),
)
def update_me(
    payload: UserUpdateMe,
    user: CurrentUser,
    session: SessionDep,
    client: ClientAddress,
    counters: RateLimitCounters,
) -> User:
    """Change your username, email or bio; fields you leave out stay as they are. A new email
    needs `current_password` too (400 `wrong_password` without it, or with a wrong one)."""
    changes = payload.model_dump(exclude_unset=True, exclude={"current_password"})
    if "email" in changes and changes["email"] != user.email:
        session.commit()  # ends the read transaction: no connection is held while bcrypt works
        wrong = "Changing your email needs your current password (`current_password`)."
        check_current_password(counters, client, user, payload.current_password, wrong)
        assert user.id is not None
        forget_reset_tokens(session, user.id)  # reset emails sent to the old address
    ensure_available(
        session,
        email=changes.get("email"),
        username=changes.get("username"),
        current_user_id=user.id,
    )
    user.sqlmodel_update(changes)
    commit_unique(session, user, current_user_id=user.id)
    return user


@users_router.post(
    "/me/password",
    summary="Change your password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 401, 413, 422, 429),
)
def change_password(
    payload: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    background_tasks: BackgroundTasks,
    client: ClientAddress,
    counters: RateLimitCounters,
) -> Response:
    """Change your password; the current one is required. Every token issued so far ends
    (this one too, so log in again): whoever knew the old password is signed out."""
    session.commit()  # ends the read transaction: its connection is not held while bcrypt works
    refuse_personal_password(
        payload.new_password, "new_password", username=user.username, email=user.email
    )
    wrong = "The current password is wrong."
    check_current_password(counters, client, user, payload.current_password, wrong)
    new_hash = hash_password(payload.new_password)
    end_every_token(session, user, background_tasks)
    user.password_hash = new_hash
    commit_or_gone(session, user, InvalidToken("The account was deleted."))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.delete(
    "/me",
    summary="Delete your account and everything you wrote",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
)
def delete_me(
    user: CurrentUser, session: SessionDep, background_tasks: BackgroundTasks
) -> Response:
    """Delete your account, and with it everything you wrote; your sockets close."""
    delete_or_gone(session, user, user, InvalidToken("The account was deleted."))
    assert user.id is not None
    background_tasks.add_task(hub.sign_out, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get(
    "", summary="List users", response_model=Page[UserPublic], responses=error_responses(422)
)
def list_users(session: SessionDep, page: Pagination) -> Page[UserPublic]:
    """Everyone who has an account, oldest first."""
    everyone = select(User.id)
    query = (
        select(User, total_up_to_cap(everyone).label("total"))
        .order_by(col(User.id))
        .offset(page.offset)
        .limit(page.limit)
    )
    rows = session.exec(query).all()
    total = page_total(session, rows, everyone)
    return Page[UserPublic].of([UserPublic.model_validate(user) for user, _ in rows], total, page)


@users_router.get(
    "/{user_id}",
    summary="Read a user's public profile",
    response_model=UserPublic,
    responses=error_responses(404, 422),
)
def read_user(user_id: IdPath, session: SessionDep) -> User:
    """Anyone's public profile."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user
