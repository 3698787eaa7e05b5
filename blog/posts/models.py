"""Posts: the `posts` table and the shapes a post takes in requests and responses.

Lesson: relationships between tables. A post belongs to its author through a foreign key with
`ON DELETE CASCADE`, so the database itself removes a deleted user's posts. The author is loaded
with the post, in the same query (`lazy="joined"`), and `PostPublic` nests it as a plain
`UserPublic` (never the other way round, which would recurse forever). `comment_count` is a column
of the post, kept by the database as comments come and go (`blog/comments/models.py`), so a list
of posts reads it instead of counting comments. The list is newest first by `id`, which grows with
time and is never reused: the primary key's index serves it, and `(author_id, id)` one author's.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Index, Text
from sqlmodel import Field, Relationship, SQLModel

from blog.database import UTCDateTime, utc_now
from blog.fields import TRIMMED_TEXT_SCHEMA, reject_null, trimmed
from blog.pagination import Page
from blog.users.models import UserPublic

if TYPE_CHECKING:
    from blog.users.models import User

MAX_TITLE_LENGTH = 200
MAX_BODY_LENGTH = 20_000

# Stored trimmed; "   " has nothing visible in it, and so is a 422.
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TITLE_LENGTH),
    AfterValidator(trimmed),
    TRIMMED_TEXT_SCHEMA,
]
PostBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_BODY_LENGTH),
    AfterValidator(trimmed),
    TRIMMED_TEXT_SCHEMA,
]


class PostBase(SQLModel):
    title: Title = Field(max_length=MAX_TITLE_LENGTH)
    body: PostBody = Field(sa_type=Text)


class Post(PostBase, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_author_id_id", "author_id", "id"),  # one author's list (the key: all)
        {"sqlite_autoincrement": True},  # ids are never reused, on SQLite too
    )

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    # Kept by triggers on the comments table; never written by the app.
    comment_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    # Moved by every UPDATE the ORM makes to the row: a PATCH that changes something.
    updated_at: datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utc_now},
    )

    author: "User" = Relationship(sa_relationship_kwargs={"lazy": "joined", "innerjoin": True})


class PostCreate(PostBase):
    model_config = {
        "json_schema_extra": {"examples": [{"title": "Hello, world", "body": "My first post."}]}
    }


class PostUpdate(SQLModel):
    """PATCH: send only what changes."""

    model_config = {"json_schema_extra": {"examples": [{"title": "Hello again"}]}}

    title: Title | SkipJsonSchema[None] = None
    body: PostBody | SkipJsonSchema[None] = None

    @field_validator("title", "body")
    @classmethod
    def not_null(cls, value: str | None) -> str:
        return reject_null(value)


class PostPublic(PostBase):
    id: int
    author: UserPublic
    comment_count: int
    created_at: datetime
    updated_at: datetime


class PostPage(Page[PostPublic]):
    """A page of `GET /posts`."""
