"""Users: the `users` table and every shape a user takes in requests and responses.

Lesson: one SQLModel class can be both a database table and an API schema, but a single class for
everything would leak password hashes and let clients set fields they must not. So the model family
splits it: `UserBase` holds what is shared, `User` is the table, `UserRegister` and `UserUpdateMe`
accept only what a user may send (no `id`, no `is_active`), `UserPublic` and `UserPrivate` decide
what goes out. Validation rules (email, username characters) live here, the password rules in
`passwords.py`. `PasswordResetToken` is the table behind account recovery (`recovery.py`).
"""

from datetime import datetime
from typing import Annotated, Literal  # step 5

from email_validator import EmailNotValidError, validate_email  # step 5
from pydantic import (
    AfterValidator,  # step 5
    BaseModel,  # step 6
    StringConstraints,  # step 5
    ValidationInfo,  # step 5
    WithJsonSchema,  # step 5
    field_validator,  # step 5
)
from pydantic import Field as PydanticField  # step 6
from pydantic.json_schema import SkipJsonSchema  # step 7
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from blog.database import UTCDateTime, utc_now
from blog.fields import (
    NO_NUL_CHARACTER,  # step 6
    OPTIONAL_TEXT_SCHEMA,  # step 7
    reject_null,  # step 7
    trimmed_or_empty,  # step 7
)
from blog.pagination import Page
from blog.users.passwords import PERSONAL_PASSWORD, Password, is_personal  # step 5


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


class UserPublic(UserBase):
    """What anyone may see about a user: never the email, never the password hash."""

    # Every field is in every answer, so the document marks them all required (`bio` too).
    model_config = {"json_schema_serialization_defaults_required": True}
    id: int
    created_at: datetime


class UserPage(Page[UserPublic]):
    """A page of `GET /users` (a class of its own: clients call it `UserPage`)."""


USERNAME_PATTERN = r"^[A-Za-z0-9_]+$"  # step 5


def valid_email(value: str) -> str:  # step 5
    """The address, normalised and lower-cased, if its syntax is valid."""  # step 5
    # Only the syntax is checked: nothing is sent and no DNS is asked (`test_environment`, which
    # also accepts the `.test` domain, reserved for testing, so tests and demos need no real
    # addresses).
    # The part before the @ must be ASCII (a Cyrillic a, U+0430, would pass for a Latin one),
    # and the domain is kept in its ASCII (IDNA) form, so a look-alike shows as `xn--...`.
    try:  # step 5
        checked = validate_email(value, test_environment=True, allow_smtputf8=False)  # step 5
    except EmailNotValidError as error:  # step 5
        raise ValueError(f"not a valid email address: {error}") from None  # step 5
    return (checked.ascii_email or checked.normalized).lower()  # step 5


# Emails are stored lower-case, so uniqueness and login ignore case.
Email = Annotated[  # step 5
    str,  # step 5
    StringConstraints(max_length=320),  # step 5
    AfterValidator(valid_email),  # step 5
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),  # step 5
]  # step 5
Username = Annotated[  # step 5
    str, StringConstraints(min_length=3, max_length=30, pattern=USERNAME_PATTERN)  # step 5
]  # step 5


class UserRegister(SQLModel):  # step 5
    model_config = {  # step 5
        "json_schema_extra": {  # step 5
            "examples": [  # step 5
                {  # step 5
                    # Not a demo user of `python -m blog seed`, so trying it answers 201.
                    "email": "margaret@example.com",  # step 5
                    "username": "margaret",  # step 5
                    "password": "correct horse battery",  # step 5
                }  # step 5
            ]  # step 5
        }  # step 5
    }  # step 5

    email: Email  # step 5
    username: Username  # step 5
    password: Password  # step 5

    @field_validator("password")  # step 5
    @classmethod  # step 5
    def not_personal(cls, password: str, body: ValidationInfo) -> str:  # step 5
        username, email = body.data.get("username", ""), body.data.get("email", "")  # step 5
        if is_personal(password, username, email):  # step 5
            raise ValueError(PERSONAL_PASSWORD)  # step 5
        return password  # step 5


class Token(SQLModel):  # step 5
    model_config = {"json_schema_serialization_defaults_required": True}  # step 5
    access_token: str  # step 5
    token_type: Literal["bearer"] = "bearer"  # step 5


class LoginForm(BaseModel):  # step 6
    """The password form of Swagger UI's Authorize dialog (other fields ignored)."""  # step 6

    # At most an email's length: an unknown name is a rate-limit key for a while, so an unbounded
    # one would let every guess park a megabyte in the counters.
    username: str = PydanticField(  # step 6
        description="Your email or your username",  # step 6
        examples=["ada"],  # step 6
        max_length=320,  # step 6
        pattern=NO_NUL_CHARACTER,  # step 6
    )  # step 6
    password: str = PydanticField(  # step 6
        examples=["correct horse battery"],  # step 6
        pattern=NO_NUL_CHARACTER,  # step 6
    )  # step 6


Bio = Annotated[  # step 7
    str,  # step 7
    StringConstraints(max_length=500),  # step 7
    AfterValidator(trimmed_or_empty),  # step 7
    OPTIONAL_TEXT_SCHEMA,  # step 7
]  # step 7


class UserUpdateMe(SQLModel):  # step 7
    """What a user may change about themselves; every field optional (PATCH)."""  # step 7

    model_config = {  # step 7
        "json_schema_extra": {"examples": [{"bio": "I write about analytical engines."}]}  # step 7
    }  # step 7

    # `SkipJsonSchema[None]`: None is the "left out" default, but the schema does not offer null.
    username: Username | SkipJsonSchema[None] = None  # step 7
    email: Email | SkipJsonSchema[None] = None  # step 7
    bio: Bio | SkipJsonSchema[None] = None  # step 7
    # A stolen token alone must not be enough to move the account to another address (from where
    # a password reset would take it over), so a new email needs the password too.
    current_password: str | SkipJsonSchema[None] = Field(  # step 7
        default=None,  # step 7
        description="Your password: required when `email` changes",  # step 7
    )  # step 7

    @field_validator("username", "email", "bio", "current_password")  # step 7
    @classmethod  # step 7
    def not_null(cls, value: str | None) -> str:  # step 7
        return reject_null(value)  # step 7


class PasswordChange(SQLModel):  # step 7
    model_config = {  # step 7
        "json_schema_extra": {  # step 7
            "examples": [  # step 7
                {  # step 7
                    "current_password": "correct horse battery",  # step 7
                    "new_password": "battery staple 42",  # step 7
                }  # step 7
            ]  # step 7
        }  # step 7
    }  # step 7

    current_password: str  # step 7
    new_password: Password  # step 7


class UserPrivate(UserPublic):  # step 6
    """What a signed-in user sees about themselves."""  # step 6

    email: str  # step 6
    is_active: bool  # step 6


# A password-reset token, stored only as its SHA-256: whoever reads this table (a backup, a leaked
# dump) learns nothing that resets a password.
class PasswordResetToken(SQLModel, table=True):  # step 17
    __tablename__ = "password_reset_tokens"  # step 17

    id: int | None = Field(default=None, primary_key=True)  # step 17
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)  # step 17
    token_hash: str = Field(max_length=64, unique=True)  # step 17
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)  # step 17
