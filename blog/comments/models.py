"""Comments: the `comments` table and the shapes a comment takes in requests and responses.

Lesson: a table with two parents. A comment belongs to a post and to its author, each through a
foreign key with `ON DELETE CASCADE`: deleting the post or the author's account removes it, in the
database, on SQLite and PostgreSQL alike. `CommentCreate` carries only the body: the post comes from
the path and the author from the token, so a client cannot write either (mass assignment).

Each post keeps its `comment_count`, and the database keeps it right: triggers on this table add
one for every comment stored and take one away for every comment deleted, however it goes (a
route, or the cascade of a deleted account). The migration creates them; so does `create_all`
(the tests' schema), through the `after_create` DDL below.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Connection, Index, MetaData, event
from sqlmodel import Field, Relationship, SQLModel

from blog.database import UTCDateTime, utc_now
from blog.fields import TRIMMED_TEXT_SCHEMA, reject_null, trimmed
from blog.pagination import Page
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
    body: CommentBody = Field(max_length=MAX_COMMENT_LENGTH)


class Comment(CommentBase, table=True):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_post_id_id", "post_id", "id"),  # a post's comments, oldest first
        {"sqlite_autoincrement": True},  # ids are never reused, on SQLite too
    )

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", ondelete="CASCADE")
    # Indexed so that deleting an account finds its comments without scanning the table.
    author_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    # Moved by every UPDATE the ORM makes to the row: a PATCH that changes something.
    updated_at: datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utc_now},
    )

    author: "User" = Relationship(sa_relationship_kwargs={"lazy": "joined", "innerjoin": True})


# The triggers that keep `posts.comment_count`, in each database's dialect. A comment never moves
# to another post, so inserts and deletes are all there is to count.
COMMENT_COUNT_TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER comments_count_insert AFTER INSERT ON comments BEGIN "
        "UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id; END",
        "CREATE TRIGGER comments_count_delete AFTER DELETE ON comments BEGIN "
        "UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id; END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION count_comments() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF TG_OP = 'INSERT' THEN "
        "UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id; "
        "ELSE UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id; "
        "END IF; RETURN NULL; END $$",
        "CREATE TRIGGER comments_count AFTER INSERT OR DELETE ON comments "
        "FOR EACH ROW EXECUTE FUNCTION count_comments()",
    ),
}


def create_comment_count_triggers(connection: Connection) -> None:
    """Make the triggers that keep `posts.comment_count` (a migration calls this)."""
    for statement in COMMENT_COUNT_TRIGGERS[connection.dialect.name]:
        connection.exec_driver_sql(statement)


@event.listens_for(SQLModel.metadata, "after_create")
def create_triggers_with_the_tables(metadata: MetaData, connection: Connection, **_: Any) -> None:
    """`create_all` (the tests' schema) makes the triggers too."""
    if "comments" in metadata.tables:
        create_comment_count_triggers(connection)


class CommentCreate(CommentBase):
    model_config = {"json_schema_extra": {"examples": [{"body": "Great post!"}]}}


class CommentUpdate(SQLModel):
    model_config = {"json_schema_extra": {"examples": [{"body": "Great post, thanks!"}]}}

    body: CommentBody | SkipJsonSchema[None] = None

    @field_validator("body")
    @classmethod
    def not_null(cls, value: str | None) -> str:
        return reject_null(value)


class CommentPublic(CommentBase):
    id: int
    post_id: int
    author: UserPublic
    created_at: datetime
    updated_at: datetime


class CommentPage(Page[CommentPublic]):
    """A page of `GET /posts/{post_id}/comments`."""
