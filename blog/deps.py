"""Dependencies shared by every router: the database session, the signed-in user, pagination.

Lesson: FastAPI's dependency injection turns "every route needs X" into a parameter. An `Annotated`
alias reads like English in a route signature (`session: SessionDep`, `user: CurrentUser`) and keeps
the rule in one place: `get_current_user` is *authentication* (who are you?), and every route that
takes `CurrentUser` is refused with 401 before its body runs. *Authorization* (may you touch this?)
builds on it in the domain routers. `commit_or_gone` and `delete_or_gone` answer a write that loses
a race with a delete (404, or 401 if the account went) instead of a 500. Pagination parameters and
the `Page[T]` envelope live here too, so every list endpoint is bounded the same way.
"""

from collections.abc import Sequence
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Path, Query
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field
from sqlalchemy import ScalarSelect, Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel, col, delete, func, select

from blog.database import SessionInThread, get_session, get_session_in_thread
from blog.errors import DomainError, InvalidToken, NotAuthenticated
from blog.security import InvalidTokenError, decode_access_token
from blog.users.models import User

SessionDep = Annotated[Session, Depends(get_session)]
RunInSession = Annotated[SessionInThread, Depends(get_session_in_thread)]

# Ids are PostgreSQL `integer`s: a path id outside 1..MAX_ID is a 422, never a database error.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_OFFSET = 1_000_000_000

# Tells Swagger UI's Authorize button where to log in. `auto_error=False`: a missing token is
# reported by `get_current_user`, in our error shape, with our code.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a valid, current token was issued to; None for anything else. A deleted or
    deactivated account, or a token from before the account's last logout or password change
    (an older token version), is treated exactly like an expired or forged token."""
    try:
        claims = decode_access_token(token)
    except InvalidTokenError:
        return None
    user = session.get(User, claims.user_id) if 1 <= claims.user_id <= MAX_ID else None
    if user is None or not user.is_active or user.token_version != claims.token_version:
        return None
    return user


def get_current_user(
    session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The active user the bearer token was issued to, or 401."""
    if not token:
        raise NotAuthenticated("Not authenticated: send 'Authorization: Bearer <token>'.")
    user = user_for_token(session, token)
    if user is None:
        raise InvalidToken("The token is invalid or has expired.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def lost_race(session: Session, user_id: int | None, gone: DomainError) -> DomainError:
    """What to answer when a delete by another request got in first: 401 if the signed-in
    account is what went, `gone` (the post or comment's 404) otherwise."""
    session.rollback()  # nothing half-written; the session can be used again
    account_exists = session.exec(select(User.id).where(User.id == user_id)).first()
    if account_exists is None:
        return InvalidToken("The account was deleted.")
    return gone


def commit_or_gone(session: Session, user: User, gone: DomainError) -> None:
    """Commit this request's writes, unless another request deleted what they touch first.

    Between loading a row and committing a change to it, another request may delete it (or the
    account). The database then refuses: an UPDATE that finds no row (`StaleDataError`), an
    INSERT whose foreign key points at nothing (`IntegrityError`). Everything is rolled back and
    the answer is a 401 or `gone`, never a 500.
    """
    user_id = user.id  # read now: a failed commit expires every loaded object
    try:
        session.commit()
    except (StaleDataError, IntegrityError):
        raise lost_race(session, user_id, gone) from None


def delete_or_gone(session: Session, user: User, row: SQLModel, gone: DomainError) -> None:
    """Delete `row` and commit; `gone` (or 401) if another request deleted it first.

    A plain DELETE statement, because it says how many rows it deleted; `session.delete()` would
    only warn when it found none.
    """
    table = type(row)
    deleted = session.exec(delete(table).where(col(table.id) == row.id))  # type: ignore[attr-defined]
    if deleted.rowcount == 0:
        raise lost_race(session, user.id, gone)
    session.commit()


class PageParams(BaseModel):
    """`?limit&offset`: at most 100 items per page, 20 by default."""

    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


Pagination = Annotated[PageParams, Query()]

ItemT = TypeVar("ItemT")

# Counting every row of a big table costs more than reading a page of it (at a million posts,
# 35 ms against 1.5 ms), so lists count no further than this: `total` is exact up to TOTAL_CAP,
# and TOTAL_CAP means "that many or more".
TOTAL_CAP = 10_000


def total_up_to_cap(rows: Select[Any]) -> ScalarSelect[int]:
    """How many rows `rows` selects, counting no further than TOTAL_CAP, as a subquery. Added as
    the last column of a page's query, the database counts once (the subquery does not depend
    on the row) and the page comes back with its total in one statement: one round trip, and one
    statement fewer for SQLAlchemy to run. `page_total` reads it back."""
    counted = rows.limit(TOTAL_CAP).subquery()
    return select(func.count()).select_from(counted).scalar_subquery()


def page_total(
    session: Session,
    page_rows: Sequence[Any],
    counted: Select[Any],
    values: dict[str, Any] | None = None,
) -> int:
    """The total a page's rows carry as their last column (`total_up_to_cap`). A page past the
    end has no row to carry it, so only then is it counted on its own (`values`: the bound
    parameters of `counted`, if it has any)."""
    if page_rows:
        return int(page_rows[0][-1])
    return session.exec(select(total_up_to_cap(counted)), params=values).one()


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: the items, how many there are in all, and where the page starts."""

    items: list[ItemT]
    total: int = Field(
        description=f"How many items match, counted up to {TOTAL_CAP:,}: "
        f"{TOTAL_CAP:,} means that many or more."
    )
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[ItemT], total: int, params: PageParams) -> Self:
        return cls(items=items, total=total, limit=params.limit, offset=params.offset)
