"""Users: the `users` table and every shape a user takes in requests and responses.

Lesson: one SQLModel class can be both a database table and an API schema, but a single class for
everything would leak password hashes and let clients set fields they must not. So the model family
splits it: `UserBase` holds what is shared, `User` is the table, `UserRegister` and `UserUpdateMe`
accept only what a user may send (no `id`, no `is_active`), `UserPublic` and `UserPrivate` decide
what goes out. Validation rules (email, username characters) live here, the password rules in
`passwords.py`. `PasswordResetToken` is the table behind account recovery (`recovery.py`).
"""

from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic import Field as PydanticField
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from blog.database import UTCDateTime, utc_now
from blog.fields import NO_NUL_CHARACTER, OPTIONAL_TEXT_SCHEMA, reject_null, trimmed_or_empty
from blog.users.passwords import PERSONAL_PASSWORD, Password, is_personal

USERNAME_PATTERN = r"^[A-Za-z0-9_]+$"


def valid_email(value: str) -> str:
    """The address, normalised and lower-cased, if its syntax is valid.

    Only the syntax is checked: nothing is sent and no DNS is asked. The `.test` domain, reserved
    for testing, is accepted (`ada@example.test`), so tests and demos need no real addresses.
    """
    try:
        checked = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from None
    return checked.normalized.lower()


# Emails are stored lower-case, so uniqueness and login ignore case.
Email = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(valid_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),
]
Username = Annotated[str, StringConstraints(min_length=3, max_length=30, pattern=USERNAME_PATTERN)]
Bio = Annotated[
    str, StringConstraints(max_length=500), AfterValidator(trimmed_or_empty), OPTIONAL_TEXT_SCHEMA
]


class UserBase(SQLModel):
    username: str = Field(max_length=30)
    bio: str = Field(default="", max_length=500)


class User(UserBase, table=True):
    __tablename__ = "users"
    # SQLite hands out the highest id again after a delete unless told AUTOINCREMENT; a token of a
    # deleted account would then sign in as the next one. PostgreSQL's sequences never reuse ids.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    # `username` lower-cased, kept by `fill_username_key`: "Ada" and "ada" cannot both exist, and
    # login matches either. (A plain column works the same on SQLite and PostgreSQL, where an index
    # on lower(username) could not be checked by `alembic check` on SQLite.)
    username_key: str = Field(default="", max_length=30, unique=True)
    password_hash: str = Field(max_length=60)
    is_active: bool = True
    # Every token carries the version it was issued under; logging out or changing the password
    # moves the version on, which ends every token issued before (see `blog/deps.py`).
    token_version: int = 0
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def fill_username_key(_mapper: Mapper[User], _connection: Connection, user: User) -> None:
    user.username_key = user.username.lower()


class UserRegister(SQLModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"email": "ada@example.com", "username": "ada", "password": "correct horse battery"}
            ]
        }
    }

    email: Email
    username: Username
    password: Password

    @field_validator("password")
    @classmethod
    def not_personal(cls, password: str, body: ValidationInfo) -> str:
        if is_personal(password, body.data.get("username", ""), body.data.get("email", "")):
            raise ValueError(PERSONAL_PASSWORD)
        return password


class LoginForm(BaseModel):
    """The OAuth2 password form Swagger UI's Authorize dialog sends (other fields are ignored)."""

    # At most an email's length: an unknown name is a rate-limit key for a while, so an unbounded
    # one would let every guess park a megabyte in the counters.
    username: str = PydanticField(
        description="Your email or your username",
        examples=["ada"],
        max_length=320,
        pattern=NO_NUL_CHARACTER,
    )
    password: str = PydanticField(examples=["correct horse battery"], pattern=NO_NUL_CHARACTER)


class UserUpdateMe(SQLModel):
    """What a user may change about themselves; every field optional (PATCH)."""

    model_config = {
        "json_schema_extra": {"examples": [{"bio": "I write about analytical engines."}]}
    }

    # `SkipJsonSchema[None]`: None is the "left out" default, but the schema does not offer null.
    username: Username | SkipJsonSchema[None] = None
    email: Email | SkipJsonSchema[None] = None
    bio: Bio | SkipJsonSchema[None] = None
    # A stolen token alone must not be enough to move the account to another address (from where
    # a password reset would take it over), so a new email needs the password too.
    current_password: str | SkipJsonSchema[None] = Field(
        default=None, description="Your password: required when `email` changes"
    )

    @field_validator("username", "email", "bio", "current_password")
    @classmethod
    def not_null(cls, value: str | None) -> str:
        return reject_null(value)


class PasswordChange(SQLModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"current_password": "correct horse battery", "new_password": "battery staple 42"}
            ]
        }
    }

    current_password: str
    new_password: Password


class PasswordResetRequest(SQLModel):
    model_config = {"json_schema_extra": {"examples": [{"email": "ada@example.com"}]}}

    email: Email


class PasswordResetRequested(SQLModel):
    """The same answer whether or not an account has the email: the API does not say which."""

    detail: str = (
        "If an account has this email, a password-reset token is on its way to it. "
        "Send it to POST /auth/password-reset/confirm with your new password."
    )


class PasswordResetConfirm(SQLModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "token": "paste the token from the email here (43 characters)",
                    "new_password": "battery staple 42",
                }
            ]
        }
    }

    # Any string: a token of the wrong length or alphabet is an invalid token (400), like a
    # well-formed one that matches nothing, not a validation error.
    token: str
    new_password: Password


class PasswordResetToken(SQLModel, table=True):
    """A password-reset token, stored only as its SHA-256: whoever reads this table (a backup,
    a leaked dump) learns nothing that resets a password."""

    __tablename__ = "password_reset_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


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
