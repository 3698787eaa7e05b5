"""Accounts: register, log in, and read or change your own profile (`/auth/*`, `/users/*`).

Lesson: authentication end to end. Registration validates input (see `models.py`), hashes the
password and answers with a token; login checks a password form (so Swagger UI's Authorize button
works) and spends the same bcrypt time whether or not the account exists. Routes that take
`CurrentUser` only run for a valid token; logging out and changing the password end every token
of the account, and moving the account to a new email asks for the password again
(re-authentication: a stolen token is not enough). The shared rules are in `accounts.py`. Later
lessons add to these routes: the welcome email, the hash slots of `blog/capacity.py`, the rate
limits of `blog/rate_limits.py`; a forgotten password is reset by email (`recovery.py`).
"""

from typing import Annotated  # step 6

from fastapi import (
    APIRouter,
    BackgroundTasks,  # step 7
    Depends,  # step 15
    Form,  # step 6
    Request,  # step 20
    Response,  # step 20
    status,
)
from sqlmodel import (
    col,
    or_,  # step 6
    select,
)

from blog.addresses import ClientAddress  # step 16
from blog.capacity import take_password_hash_slot  # step 15
from blog.deps import (
    CurrentUser,  # step 6
    IdPath,
    SessionDep,
)
from blog.errors import (
    InvalidCredentials,  # step 6
    InvalidToken,  # step 7
    NotFound,
    WrongPassword,  # step 7
    error_responses,
)
from blog.hub import hub  # step 18
from blog.mail import send_welcome_email  # step 8
from blog.pages import has_more, link_to_next  # step 20
from blog.pagination import Page, Pagination, count_up_to_cap
from blog.races import commit_or_gone, delete_or_gone  # step 7
from blog.rate_limits import (
    RateLimitCounters,  # step 16
    count_login_attempt,  # step 16
    count_logins_from,  # step 16
    count_registration,  # step 16
    forget_login_attempts,  # step 16
)
from blog.security import (
    dummy_password_hash,  # step 6
    hash_password,  # step 5
    verify_password,  # step 6
)
from blog.users.accounts import (
    check_current_password,  # step 7
    end_every_token,  # step 7
    forget_reset_tokens,  # step 17
    save_account,  # step 5
    tell_the_owner,  # step 8
    token_for,  # step 5
)
from blog.users.models import (
    LoginForm,  # step 6
    PasswordChange,  # step 7
    Token,  # step 5
    User,
    UserPage,
    UserPrivate,  # step 6
    UserPublic,
    UserRegister,  # step 5
    UserUpdateMe,  # step 7
)
from blog.users.passwords import refuse_personal_password  # step 7

auth_router = APIRouter(prefix="/auth", tags=["auth"])  # step 5
users_router = APIRouter(prefix="/users", tags=["users"])

ACCOUNT_DELETED = "The account was deleted."  # step 7


@auth_router.post(  # step 5
    "/register",  # step 5
    status_code=status.HTTP_201_CREATED,  # step 5
    dependencies=[  # step 5
        # Counted first: a refused registration waits for no hash slot and opens no session.
        Depends(count_registration),  # step 16
        Depends(take_password_hash_slot, scope="function"),  # step 15
    ],  # step 5
    responses=error_responses(400, 409, 413, 422, 429),  # step 5
)  # step 5
def register(  # step 5
    payload: UserRegister,  # step 5
    session: SessionDep,  # step 5
    background_tasks: BackgroundTasks,  # step 8
) -> Token:  # step 5
    """Create an account and sign in to it."""  # step 5
    password_hash = hash_password(payload.password)  # step 5
    user = User.model_validate(payload, update={"password_hash": password_hash})  # step 5
    save_account(session, user)  # step 5
    # A welcome email follows, after the response has been sent.
    assert user.id is not None  # step 8
    background_tasks.add_task(send_welcome_email, user.id, user.email, user.username)  # step 8
    return token_for(user)  # step 5


@auth_router.post(  # step 6
    "/login",  # step 6
    dependencies=[  # step 6
        # Counted first: a client past its logins in all waits for no hash slot.
        Depends(count_logins_from),  # step 16
        Depends(take_password_hash_slot, scope="function"),  # step 15
    ],  # step 6
    responses=error_responses(400, InvalidCredentials, 413, 422, 429),  # step 6
)  # step 6
def login(  # step 6
    form: Annotated[LoginForm, Form()],  # step 6
    session: SessionDep,  # step 6
    client: ClientAddress,  # step 16
    counters: RateLimitCounters,  # step 16
) -> Token:  # step 6
    """Exchange an email or username and a password for a bearer token."""  # step 6
    identifier = form.username.strip().lower()  # step 6
    by_email_or_username = or_(User.email == identifier, User.username_key == identifier)  # step 6
    user = session.exec(select(User).where(by_email_or_username)).first()  # step 6
    # By email or by username, one account is one count; an unknown name counts by its text.
    account = f"user:{user.id}" if user else f"name:{identifier}"  # step 16
    # Counted before bcrypt: a refused guess costs nothing.
    count_login_attempt(counters, account, client)  # step 16
    # Without an account, check against a dummy hash: the answer takes as long either way.
    password_hash = user.password_hash if user else dummy_password_hash()  # step 6
    matches = verify_password(form.password, password_hash)  # step 6
    if not (matches and user and user.is_active):  # step 6
        raise InvalidCredentials("Incorrect email/username or password.")  # step 6
    forget_login_attempts(counters, account, client)  # step 16
    return token_for(user)  # step 6


@auth_router.post(  # step 7
    "/logout",  # step 7
    status_code=status.HTTP_204_NO_CONTENT,  # step 7
    responses=error_responses(401),  # step 7
)  # step 7
def logout(  # step 7
    user: CurrentUser,  # step 7
    session: SessionDep,  # step 7
    background_tasks: BackgroundTasks,  # step 7
) -> None:  # step 7
    """End every token of your account, this one included, on every device."""  # step 7
    end_every_token(session, user, background_tasks)  # step 7
    commit_or_gone(session, user, InvalidToken(ACCOUNT_DELETED))  # step 7


@users_router.get("/me", response_model=UserPrivate, responses=error_responses(401))  # step 6
def read_me(user: CurrentUser) -> User:  # step 6
    """Your own account, email included."""  # step 6
    return user  # step 6


@users_router.patch(  # step 7
    "/me",  # step 7
    response_model=UserPrivate,  # step 7
    dependencies=[  # step 7
        Depends(take_password_hash_slot, scope="function"),  # step 15
    ],  # step 7
    responses=error_responses(400, WrongPassword, 401, 409, 413, 422, 429),  # step 7
)  # step 7
def update_me(  # step 7
    payload: UserUpdateMe,  # step 7
    user: CurrentUser,  # step 7
    session: SessionDep,  # step 7
    background_tasks: BackgroundTasks,  # step 8
    client: ClientAddress,  # step 16
    counters: RateLimitCounters,  # step 16
) -> User:  # step 7
    # Fields you leave out stay as they are. A new email needs `current_password` too (400
    # `wrong_password` without it, or with a wrong one).
    """Change your username, email or bio."""  # step 7
    changes = payload.model_dump(exclude_unset=True, exclude={"current_password"})  # step 7
    if changes.get("email", user.email) != user.email:  # step 7
        # Counted like a registration: each tells whether an address is taken.
        count_registration(counters, client)  # step 16
        wrong = "Changing your email needs your current password (`current_password`)."  # step 7
        check_current_password(  # step 7
            user,  # step 7
            payload.current_password,  # step 7
            wrong,  # step 7
            counters=counters,  # step 16
            client=client,  # step 16
        )  # step 7
        # Reset emails sent to the old address stop working.
        forget_reset_tokens(session, user)  # step 17
        # The old address hears of it: a stolen session cannot move the account unnoticed.
        tell_the_owner(background_tasks, user, "Your email address was changed")  # step 8
    user.sqlmodel_update(changes)  # step 7
    save_account(session, user)  # step 7
    return user  # step 7


@users_router.post(  # step 7
    "/me/password",  # step 7
    status_code=status.HTTP_204_NO_CONTENT,  # step 7
    dependencies=[  # step 7
        Depends(take_password_hash_slot, scope="function"),  # step 15
    ],  # step 7
    responses=error_responses(400, WrongPassword, 401, 413, 422, 429),  # step 7
)  # step 7
def change_password(  # step 7
    payload: PasswordChange,  # step 7
    user: CurrentUser,  # step 7
    session: SessionDep,  # step 7
    background_tasks: BackgroundTasks,  # step 7
    client: ClientAddress,  # step 16
    counters: RateLimitCounters,  # step 16
) -> None:  # step 7
    """Change your password; the current one is required."""  # step 7
    # Every token issued so far ends (this one too, so log in again): whoever knew the old
    # password is signed out.
    refuse_personal_password(  # step 7
        payload.new_password,  # step 7
        "new_password",  # step 7
        username=user.username,  # step 7
        email=user.email,  # step 7
    )  # step 7
    wrong = "The current password is wrong."  # step 7
    check_current_password(  # step 7
        user,  # step 7
        payload.current_password,  # step 7
        wrong,  # step 7
        counters=counters,  # step 16
        client=client,  # step 16
    )  # step 7
    password_hash = hash_password(payload.new_password)  # step 7
    end_every_token(session, user, background_tasks)  # step 7
    user.password_hash = password_hash  # step 7
    commit_or_gone(session, user, InvalidToken(ACCOUNT_DELETED))  # step 7
    tell_the_owner(background_tasks, user, "Your password was changed")  # step 8


@users_router.delete(  # step 7
    "/me",  # step 7
    status_code=status.HTTP_204_NO_CONTENT,  # step 7
    responses=error_responses(401),  # step 7
)  # step 7
def delete_me(  # step 7
    user: CurrentUser,  # step 7
    session: SessionDep,  # step 7
    background_tasks: BackgroundTasks,  # step 7
) -> None:  # step 7
    """Delete your account, and with it everything you wrote."""  # step 7
    assert user.id is not None  # a signed-in user is stored  # step 7
    delete_or_gone(session, user, user, InvalidToken(ACCOUNT_DELETED))  # step 7
    # The account's notification sockets close.
    background_tasks.add_task(hub.sign_out, user.id)  # step 18


@users_router.get("", response_model=UserPage, responses=error_responses(422))
def list_users(
    session: SessionDep,
    page: Pagination,
    request: Request,  # step 20
    response: Response,  # step 20
) -> Page[User]:
    """Everyone who has an account, oldest first."""
    query = select(User)
    users = session.exec(query.order_by(col(User.id)).offset(page.offset).limit(page.limit)).all()
    total = count_up_to_cap(session, query, page, len(users))
    listed: Page[User] = Page(items=users, total=total, limit=page.limit, offset=page.offset)
    if has_more(listed):  # step 20
        listed.next = link_to_next(request, response, offset=page.offset + page.limit)  # step 20
    return listed


@users_router.get("/{user_id}", response_model=UserPublic, responses=error_responses(404, 422))
def read_user(user_id: IdPath, session: SessionDep) -> User:
    """Anyone's public profile."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user
