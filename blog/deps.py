"""Dependencies shared by every router: the database session, the signed-in user, ids in paths.

Lesson: FastAPI's dependency injection turns "every route needs X" into a parameter. An `Annotated`
alias reads like English in a route signature (`session: SessionDep`, `user: CurrentUser`) and keeps
the rule in one place: `get_current_user` is *authentication* (who are you?), and every route that
takes `CurrentUser` is refused with 401 before its body runs. *Authorization* (may you touch this?)
builds on it in the domain routers (`owned_post`). The session is the request's: opened when a
route needs it, closed as soon as its answer is ready (`scope="function"`), so the connection is
free again before the response is sent and any background task runs.
"""

from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from blog.database import MAX_ID, get_session
from blog.errors import InvalidToken, NotAuthenticated
from blog.security import decode_access_token
from blog.users.models import User

SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# A path id outside 1..MAX_ID is a 422, never a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

# Tells Swagger UI's Authorize button where to log in. `auto_error=False`: a missing token is
# reported by `get_current_user`, in our error shape, with our code.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def get_current_user(
    session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The active user the bearer token was issued to, or 401. A deleted or deactivated account,
    or a token from before the account's last logout or password change (an older token
    version), is refused exactly like an expired or forged token."""
    if not token:
        raise NotAuthenticated("Not authenticated: send 'Authorization: Bearer <token>'.")
    claims = decode_access_token(token)
    user = session.get(User, claims.user_id) if claims else None
    if not (user and claims and user.is_active and user.token_version == claims.token_version):
        raise InvalidToken("The token is invalid or has expired.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
