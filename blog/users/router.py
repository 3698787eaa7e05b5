"""Accounts: register, log in, and read or change your own profile (`/auth/*`, `/users/*`).

Lesson: authentication end to end. Registration validates input (see `models.py`), hashes the
password and answers with a token; login checks a password form (so Swagger UI's Authorize button
works) and spends the same bcrypt time whether or not the account exists; both are rate limited
(`blog/rate_limits.py`), and routes that hash wait for their turn first (`blog/capacity.py`).
Routes that take `CurrentUser` only run for a valid token; logging out and changing the password
end every token of the account, and moving the account to a new email asks for the password again
(re-authentication: a stolen token is not enough). The shared rules are in `accounts.py`; a
forgotten password is reset by email (`recovery.py`).
"""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, status
from sqlalchemy import Engine
from sqlmodel import col, or_, select

from blog.capacity import take_password_hash_slot
from blog.database import get_engine
from blog.deps import CurrentUser, IdPath, SessionDep
from blog.errors import InvalidCredentials, InvalidToken, NotFound, error_responses
from blog.hub import hub
from blog.mail import send_welcome_email
from blog.pagination import Page, Pagination, count_up_to_cap
from blog.races import commit_or_gone, delete_or_gone
from blog.rate_limits import (
    ClientAddress,
    RateLimitCounters,
    count_login_attempt,
    count_password_reset,
    count_registration,
    forget_login_attempts,
)
from blog.security import dummy_password_hash, hash_password, verify_password
from blog.users.accounts import check_current_password, end_every_token, save_account, token_for
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
    send_password_reset,
)

auth_router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])

ACCOUNT_DELETED = "The account was deleted."


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    # Counted first: a refused registration waits for no hash slot and opens no session.
    dependencies=[
        Depends(count_registration),
        Depends(take_password_hash_slot, scope="function"),
    ],
    responses=error_responses(400, 409, 413, 422, 429),
)
def register(
    payload: UserRegister, session: SessionDep, background_tasks: BackgroundTasks
) -> Token:
    """Create an account and sign in to it. A welcome email follows (after the response).
    Each address may register `REGISTER_MAX_PER_CLIENT` times an hour (then 429)."""
    user = User.model_validate(payload, update={"password_hash": hash_password(payload.password)})
    save_account(session, user)
    assert user.id is not None  # stored: the database gave it one
    background_tasks.add_task(send_welcome_email, user.id, user.email, user.username)
    return token_for(user)


@auth_router.post(
    "/login",
    dependencies=[Depends(take_password_hash_slot, scope="function")],
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
    account = f"user:{user.id}" if user else f"name:{identifier}"
    count_login_attempt(counters, account, client)  # before bcrypt: a refused guess costs nothing
    # Without an account, check against a dummy hash: the answer takes as long either way.
    password_hash = user.password_hash if user else dummy_password_hash()
    if not verify_password(form.password, password_hash) or not user or not user.is_active:
        raise InvalidCredentials("Incorrect email/username or password.")
    forget_login_attempts(counters, account, client)
    return token_for(user)


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
)
def logout(user: CurrentUser, session: SessionDep, background_tasks: BackgroundTasks) -> None:
    """End every token of your account, this one included, on every device; your open
    notification sockets close. Log in again for a new token."""
    end_every_token(session, user, background_tasks)
    commit_or_gone(session, user, InvalidToken(ACCOUNT_DELETED))


@auth_router.post(
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


@auth_router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(take_password_hash_slot, scope="function")],
    responses=error_responses(400, 413, 422),
)
def confirm_password_reset(
    payload: PasswordResetConfirm, session: SessionDep, background_tasks: BackgroundTasks
) -> None:
    """Set a new password with an emailed token. The token works once; using it ends every
    other reset token and every session of the account (log in with the new password).
    400 `invalid_reset_token` for an unknown, used or expired token; 422 for a password that
    breaks the rules, and then the token stays unspent."""
    reset, user = account_for_reset_token(session, payload.token)
    refuse_personal_password(
        payload.new_password, "new_password", username=user.username, email=user.email
    )
    password_hash = hash_password(payload.new_password)
    claim_reset_token(session, reset)
    end_every_token(session, user, background_tasks)
    user.password_hash = password_hash
    commit_or_gone(session, user, InvalidToken(ACCOUNT_DELETED))


@users_router.get("/me", response_model=UserPrivate, responses=error_responses(401))
def read_me(user: CurrentUser) -> User:
    """Your own account, email included."""
    return user


@users_router.patch(
    "/me",
    response_model=UserPrivate,
    dependencies=[Depends(take_password_hash_slot, scope="function")],
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
    if changes.get("email", user.email) != user.email:
        wrong = "Changing your email needs your current password (`current_password`)."
        check_current_password(counters, client, user, payload.current_password, wrong)
        forget_reset_tokens(session, user)  # reset emails sent to the old address
    user.sqlmodel_update(changes)
    save_account(session, user)
    return user


@users_router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(take_password_hash_slot, scope="function")],
    responses=error_responses(400, 401, 413, 422, 429),
)
def change_password(
    payload: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    background_tasks: BackgroundTasks,
    client: ClientAddress,
    counters: RateLimitCounters,
) -> None:
    """Change your password; the current one is required. Every token issued so far ends
    (this one too, so log in again): whoever knew the old password is signed out."""
    refuse_personal_password(
        payload.new_password, "new_password", username=user.username, email=user.email
    )
    wrong = "The current password is wrong."
    check_current_password(counters, client, user, payload.current_password, wrong)
    password_hash = hash_password(payload.new_password)
    end_every_token(session, user, background_tasks)
    user.password_hash = password_hash
    commit_or_gone(session, user, InvalidToken(ACCOUNT_DELETED))


@users_router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
)
def delete_me(user: CurrentUser, session: SessionDep, background_tasks: BackgroundTasks) -> None:
    """Delete your account, and with it everything you wrote; your sockets close."""
    assert user.id is not None  # a signed-in user is stored
    delete_or_gone(session, user, user, InvalidToken(ACCOUNT_DELETED))
    background_tasks.add_task(hub.sign_out, user.id)


@users_router.get("", response_model=Page[UserPublic], responses=error_responses(422))
def list_users(session: SessionDep, page: Pagination) -> Page[User]:
    """Everyone who has an account, oldest first."""
    query = select(User)
    users = session.exec(query.order_by(col(User.id)).offset(page.offset).limit(page.limit)).all()
    total = count_up_to_cap(session, query, page, len(users))
    return Page(items=users, total=total, limit=page.limit, offset=page.offset)


@users_router.get(
    "/{user_id}",
    response_model=UserPublic,
    responses=error_responses(404, 422),
)
def read_user(user_id: IdPath, session: SessionDep) -> User:
    """Anyone's public profile."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user
