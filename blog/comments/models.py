"""Comments: the `comments` table and the shapes a comment takes in requests and responses.

Lesson: a table with two parents. A comment belongs to a post and to its author, each through a
foreign key with `ON DELETE CASCADE`: deleting the post or the author's account removes it, in the
database, on SQLite and PostgreSQL alike. `CommentCreate` carries only the body: the post comes from
the path and the author from the token, so a client cannot write either (mass assignment).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Index
from sqlmodel import Field, Relationship, SQLModel

from blog.database import UTCDateTime, utc_now
from blog.fields import TRIMMED_TEXT_SCHEMA, reject_null, trimmed
from blog.users.models import UserPublic

if TYPE_CHECKING:
    from blog.users.models import User

MAX_COMMENT_LENGTH = 2_000

# Stored trimmed; "   " has nothing visible in it, and so is a 422.
CommentBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_COMMENT_LENGTH),
    AfterValidator(trimmed),
    TRIMMED_TEXT_SCHEMA,
]


class CommentBase(SQLModel):
    body: str = Field(max_length=MAX_COMMENT_LENGTH)


class Comment(CommentBase, table=True):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_post_id_created_at_id", "post_id", "created_at", "id"),
        {"sqlite_autoincrement": True},  # ids are never reused, on SQLite too
    )

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", ondelete="CASCADE")
    # Indexed so that deleting an account finds its comments without scanning the table.
    author_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)

    author: "User" = Relationship(sa_relationship_kwargs={"lazy": "raise"})


class CommentCreate(CommentBase):
    model_config = {"json_schema_extra": {"examples": [{"body": "Great post!"}]}}

    body: CommentBody


class CommentUpdate(SQLModel):
    model_config = {"json_schema_extra": {"examples": [{"body": "Great post, thanks!"}]}}

    body: CommentBody | SkipJsonSchema[None] = None

    @field_validator("body")
    @classmethod
    def not_null(cls, value: str | None) -> str:
        return reject_null(value)


class CommentCreatedEvent(SQLModel):
    """Pushed to a post's author over `/ws/notifications` when someone else comments on it."""

    type: Literal["comment.created"] = "comment.created"
    post_id: int
    comment_id: int
    commenter: UserPublic
    created_at: datetime


class CommentPublic(CommentBase):
    id: int
    post_id: int
    author: UserPublic
    created_at: datetime
    updated_at: datetime
