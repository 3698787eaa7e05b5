"""Deleting a post or an account leaves nothing behind, enforced by the database's foreign keys."""

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, col, select

from blog.comments.models import Comment
from blog.posts.models import Post
from tests.helpers import Account, create_comment, create_post


def remaining(session: Session) -> tuple[list[str], list[str]]:
    session.expire_all()
    posts = [post.title for post in session.exec(select(Post).order_by(col(Post.id))).all()]
    comments = [
        comment.body for comment in session.exec(select(Comment).order_by(col(Comment.id))).all()
    ]
    return posts, comments


def test_deleting_a_post_deletes_its_comments(
    client: TestClient, session: Session, user: Account, other_user: Account
) -> None:
    doomed = create_post(client, user, title="doomed")
    kept = create_post(client, user, title="kept")
    create_comment(client, other_user, doomed["id"], body="on doomed")
    create_comment(client, other_user, kept["id"], body="on kept")
    assert client.delete(f"/posts/{doomed['id']}", headers=user.headers).status_code == 204
    assert remaining(session) == (["kept"], ["on kept"])


def test_deleting_an_account_deletes_its_posts_its_comments_and_comments_on_its_posts(
    client: TestClient, session: Session, user: Account, other_user: Account, third_user: Account
) -> None:
    adas_post = create_post(client, user, title="by ada")
    graces_post = create_post(client, other_user, title="by grace")
    create_comment(client, third_user, adas_post["id"], body="linus on ada's post")
    create_comment(client, user, graces_post["id"], body="ada on grace's post")
    create_comment(client, third_user, graces_post["id"], body="linus on grace's post")

    assert client.delete("/users/me", headers=user.headers).status_code == 204

    assert remaining(session) == (["by grace"], ["linus on grace's post"])
    assert client.get(f"/posts/{graces_post['id']}").json()["comment_count"] == 1


def test_the_cascade_is_the_databases_not_the_orms(
    client: TestClient, session: Session, user: Account, other_user: Account
) -> None:
    post = create_post(client, user)
    create_comment(client, other_user, post["id"])
    session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.id})
    session.commit()
    assert remaining(session) == ([], [])


def test_comment_counts_follow_every_insert_and_delete_whoever_makes_them(
    client: TestClient, session: Session, user: Account, other_user: Account
) -> None:
    """The triggers keep `comment_count`: routes, and SQL no app code sees, alike."""
    post = create_post(client, user)
    first = create_comment(client, other_user, post["id"])
    create_comment(client, user, post["id"])
    assert client.get(f"/posts/{post['id']}").json()["comment_count"] == 2
    assert client.delete(f"/comments/{first['id']}", headers=user.headers).status_code == 204
    assert client.get(f"/posts/{post['id']}").json()["comment_count"] == 1
    session.execute(
        text(
            "INSERT INTO comments (body, post_id, author_id, created_at, updated_at) "
            "VALUES ('by hand', :post, :author, :now, :now)"
        ),
        {"post": post["id"], "author": other_user.id, "now": "2026-01-01 00:00:00+00:00"},
    )
    session.commit()
    assert client.get(f"/posts/{post['id']}").json()["comment_count"] == 2
