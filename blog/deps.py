"""Dependencies shared by every router: the database session, the signed-in user, pagination.

Lesson: FastAPI's dependency injection turns "every route needs X" into a parameter. An `Annotated`
alias reads like English in a route signature (`session: SessionDep`, `user: CurrentUser`) and keeps
the rule in one place: `get_current_user` is *authentication* (who are you?), and every route that
takes `CurrentUser` is refused with 401 before its body runs. *Authorization* (may you touch this?)
builds on it in the domain routers. Pagination parameters and the `Page[T]` envelope live here too,
so every list endpoint is bounded the same way.
"""

from typing import Annotated, Generic, Self, TypeVar

from fastapi import Depends, Path, Query
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field
from sqlmodel import Session

from blog.database import get_session
from blog.errors import InvalidToken, NotAuthenticated
from blog.security import InvalidTokenError, decode_access_token
from blog.users.models import User

SessionDep = Annotated[Session, Depends(get_session)]

# Ids are PostgreSQL `integer`s: a path id outside 1..MAX_ID is a 422, never a database error.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_OFFSET = 1_000_000_000

# Tells Swagger UI's Authorize button where to log in. `auto_error=False`: a missing token is
# reported by `get_current_user`, in our error shape, with our code.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a valid token was issued to; None for anything else. A deleted or
    deactivated account is treated exactly like an expired or forged token."""
    try:
        user_id = decode_access_token(token)
    except InvalidTokenError:
        return None
    user = session.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    return user if user is not None and user.is_active else None


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


class PageParams(BaseModel):
    """`?limit&offset`: at most 100 items per page, 20 by default."""

    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


Pagination = Annotated[PageParams, Query()]

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: the items, how many there are in all, and where the page starts."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[ItemT], total: int, params: PageParams) -> Self:
        return cls(items=items, total=total, limit=params.limit, offset=params.offset)
