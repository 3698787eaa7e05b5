"""The floor for a database request: the smallest FastAPI + SQLModel app that lists and reads posts.

What a first tutorial writes, and nothing more: two tables, one engine, a plain `def` route with a
`Session` for the newest 20 posts and one for a post by id, on psycopg2 like the app. No auth,
settings, error shape, logs, rate limits or WebSockets. `tests/benchmarks/requests_cost.py` runs
it on the app's own database, next to the app, so that the app's CPU per request and its worker's
memory can be read against what FastAPI + SQLModel cost before anything of ours is added.
"""

import os
from datetime import datetime

from fastapi import FastAPI, HTTPException
from sqlmodel import Field, Session, SQLModel, col, create_engine, select


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int = Field(primary_key=True)
    username: str


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    id: int = Field(primary_key=True)
    title: str
    body: str
    author_id: int = Field(foreign_key="users.id")
    created_at: datetime


engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)
app = FastAPI()


@app.get("/posts")
def list_posts(limit: int = 20) -> list[Post]:
    with Session(engine) as session:
        return list(session.exec(select(Post).order_by(col(Post.id).desc()).limit(limit)))


@app.get("/posts/{post_id}")
def read_post(post_id: int) -> Post:
    with Session(engine) as session:
        post = session.get(Post, post_id)
        if post is None:
            raise HTTPException(status_code=404)
        return post
