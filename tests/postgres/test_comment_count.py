"""A post's `comment_count` stays right under concurrency, for real: 20 simultaneous comments and
deletes against a uvicorn server on a migrated PostgreSQL database (the migration made the
triggers), and an account deleted while it has comments on other people's posts (the database's
cascade deletes them, and no app code runs for it), and posts deleted while their comments are
(which must never deadlock: the two deletes lock the post first). After each, every post's column
equals a fresh count of its comments."""

from typing import Any

from sqlalchemy import create_engine, text

from tests.postgres.test_concurrency import all_at_once, register
from tests.servers import request

DRIFT = """
    SELECT count(*) FROM posts
    WHERE comment_count <> (SELECT count(*) FROM comments WHERE comments.post_id = posts.id)
"""


def posts_whose_count_drifted(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        drifted = connection.execute(text(DRIFT)).scalar_one()
    engine.dispose()
    return int(drifted)


def comment(base_url: str, post_id: int, headers: dict[str, str]) -> int:
    status, body = request(f"{base_url}/posts/{post_id}/comments", "POST", {"body": "c"}, headers)
    assert status == 201, body
    return int(body["id"])


def test_simultaneous_comments_and_deletes_keep_the_count(base_url: str, database_url: str) -> None:
    author = register(base_url, "author")
    readers = [register(base_url, f"reader_{index}") for index in range(4)]
    status, post = request(f"{base_url}/posts", "POST", {"title": "t", "body": "b"}, author)
    assert status == 201
    existing = [comment(base_url, post["id"], readers[index % 4]) for index in range(10)]

    def comment_or_delete(index: int) -> tuple[int, Any]:
        if index % 2:  # ten new comments
            return request(
                f"{base_url}/posts/{post['id']}/comments", "POST", {"body": "c"}, readers[0]
            )
        # ten deletes, by the post's author (who may moderate every comment on it)
        return request(f"{base_url}/comments/{existing[index // 2]}", "DELETE", None, author)

    answers = all_at_once(comment_or_delete)

    assert sorted(status for status, _ in answers) == [201] * 10 + [204] * 10, answers
    assert request(f"{base_url}/posts/{post['id']}")[1]["comment_count"] == 10
    assert posts_whose_count_drifted(database_url) == 0


def test_an_account_deleted_with_comments_on_other_posts_leaves_their_counts_right(
    base_url: str, database_url: str
) -> None:
    authors = [register(base_url, f"author_{index}") for index in range(3)]
    leaving = register(base_url, "leaving")
    staying = register(base_url, "staying")
    posts = []
    for author in authors:
        status, post = request(f"{base_url}/posts", "POST", {"title": "t", "body": "b"}, author)
        assert status == 201
        posts.append(post["id"])
    for post_id in posts:
        for _ in range(3):
            comment(base_url, post_id, leaving)
        comment(base_url, post_id, staying)

    def delete_the_account_or_comment(index: int) -> tuple[int, Any]:
        if index == 0:
            return request(f"{base_url}/users/me", "DELETE", None, leaving)
        return request(
            f"{base_url}/posts/{posts[index % 3]}/comments", "POST", {"body": "c"}, staying
        )

    answers = all_at_once(delete_the_account_or_comment)

    # A deadlock between the cascade and a comment is broken by PostgreSQL, failing one of them:
    # a 503 `server_busy`, never a 500 and never a wrong count.
    assert {status for status, _ in answers} <= {201, 204, 503}, answers
    assert answers[0][0] in {204, 503}
    assert posts_whose_count_drifted(database_url) == 0
    stored = sum(request(f"{base_url}/posts/{post_id}")[1]["comment_count"] for post_id in posts)
    comments_by_staying = 3 + sum(1 for status, _ in answers[1:] if status == 201)
    left_by_leaving = 0 if answers[0][0] == 204 else 9
    assert stored == comments_by_staying + left_by_leaving


def delete_five_posts_as_their_comments_are_deleted(
    base_url: str, author: dict[str, str], commenter: dict[str, str]
) -> list[tuple[int, Any]]:
    """Five new posts, three comments by `commenter` on each; then the five posts' deletes and
    the fifteen comments' deletes, all at once."""
    posts, comments = [], []
    for _ in range(5):
        status, post = request(f"{base_url}/posts", "POST", {"title": "t", "body": "b"}, author)
        assert status == 201
        posts.append(post["id"])
        comments += [comment(base_url, post["id"], commenter) for _ in range(3)]

    def delete_a_post_or_a_comment(index: int) -> tuple[int, Any]:
        if index < 5:
            return request(f"{base_url}/posts/{posts[index]}", "DELETE", None, author)
        return request(f"{base_url}/comments/{comments[index - 5]}", "DELETE", None, commenter)

    return all_at_once(delete_a_post_or_a_comment)


def test_deleting_a_post_while_its_comments_are_deleted_is_never_a_deadlock(
    base_url: str, database_url: str
) -> None:
    author, commenter = register(base_url, "author"), register(base_url, "commenter")
    for _ in range(3):  # rounds: each pairing races differently
        answers = delete_five_posts_as_their_comments_are_deleted(base_url, author, commenter)
        # Either delete may win each comment; neither is ever a 503 (a deadlock broken).
        assert [status for status, _ in answers[:5]] == [204] * 5, answers
        assert {status for status, _ in answers[5:]} <= {204, 404}, answers
    assert posts_whose_count_drifted(database_url) == 0
