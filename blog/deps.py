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
from fastapi.security import OAuth2PasswordBearer  # step 6
from sqlmodel import Session

from blog.database import MAX_ID, get_session
from blog.errors import (
    InvalidToken,  # step 6
    NotAuthenticated,  # step 6
)
from blog.security import decode_access_token  # step 6
from blog.users.models import User  # step 6

SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# A path id outside 1..MAX_ID is a 422, never a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

# Swagger UI shows the password flow's client fields and offers no setting to hide them.
SIGN_IN = "Username (or email) and password. Leave client_id and client_secret empty."  # step 6

# Tells Swagger UI's Authorize button where to log in. `auto_error=False`: a missing token is
# reported by `get_current_user`, in our error shape, with our code.
oauth2_scheme = OAuth2PasswordBearer(  # step 6
    tokenUrl="/auth/login",  # step 6
    auto_error=False,  # step 6
    description=SIGN_IN,  # step 6
)  # step 6


def get_current_user(  # step 6
    session: SessionDep,  # step 6
    token: Annotated[str | None, Depends(oauth2_scheme)],  # step 6
) -> User:  # step 6
    """The active user the bearer token was issued to, or 401."""  # step 6
    # A deleted or deactivated account, or a token from before the account's last logout or
    # password change (an older token version), is refused exactly like an expired or forged one.
    if not token:  # step 6
        raise NotAuthenticated("Not authenticated: send 'Authorization: Bearer <token>'.")  # step 6
    claims = decode_access_token(token)  # step 6
    user = session.get(User, claims.user_id) if claims else None  # step 6
    current = user and claims and user.token_version == claims.token_version  # step 6
    if not (current and user and user.is_active):  # step 6
        raise InvalidToken("The token is invalid or has expired.")  # step 6
    return user  # step 6


CurrentUser = Annotated[User, Depends(get_current_user)]  # step 6
