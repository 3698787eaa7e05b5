"""Users: the `users` table and every shape a user takes in requests and responses.

Lesson: one SQLModel class can be both a database table and an API schema, but a single class for
everything would leak password hashes and let clients set fields they must not. So the model family
splits it: `UserBase` holds what is shared, `User` is the table, `UserRegister` and `UserUpdateMe`
accept only what a user may send (no `id`, no `is_active`), `UserPublic` and `UserPrivate` decide
what goes out. Validation rules (email, username characters, the 72-byte password limit) live here.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, EmailStr, StringConstraints, field_validator
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from blog.database import UTCDateTime, reject_null, utc_now
from blog.security import MAX_PASSWORD_BYTES

USERNAME_PATTERN = r"^[A-Za-z0-9_]+$"
MIN_PASSWORD_BYTES = 8


def lower_case(email: str) -> str:
    return email.lower()


def password_length_in_bytes(password: str) -> str:
    size = len(password.encode("utf-8"))
    if size < MIN_PASSWORD_BYTES or size > MAX_PASSWORD_BYTES:
        raise ValueError(
            f"password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes in UTF-8 "
            f"(this one is {size})"
        )
    return password


# Emails are stored lower-case, so uniqueness and login ignore case.
Email = Annotated[EmailStr, AfterValidator(lower_case)]
Username = Annotated[str, StringConstraints(min_length=3, max_length=30, pattern=USERNAME_PATTERN)]
Password = Annotated[str, AfterValidator(password_length_in_bytes)]
Bio = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class UserBase(SQLModel):
    username: str = Field(max_length=30)
    bio: str = Field(default="", max_length=500)


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    # `username` lower-cased, kept by `fill_username_key`: "Ada" and "ada" cannot both exist, and
    # login matches either. (A plain column works the same on SQLite and PostgreSQL, where an index
    # on lower(username) could not be checked by `alembic check` on SQLite.)
    username_key: str = Field(default="", max_length=30, unique=True)
    password_hash: str = Field(max_length=60)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def fill_username_key(_mapper: Mapper[User], _connection: Connection, user: User) -> None:
    user.username_key = user.username.lower()


class UserRegister(SQLModel):
    email: Email
    username: Username
    password: Password


class UserUpdateMe(SQLModel):
    """What a user may change about themselves; every field optional (PATCH)."""

    username: Username | None = None
    email: Email | None = None
    bio: Bio | None = None

    not_null = field_validator("username", "email", "bio")(reject_null)


class PasswordChange(SQLModel):
    current_password: str
    new_password: Password


class UserPublic(UserBase):
    """What anyone may see about a user: never the email, never the password hash."""

    id: int
    created_at: datetime


class UserPrivate(UserPublic):
    """What a signed-in user sees about themselves."""

    email: str
    is_active: bool


class Token(SQLModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
