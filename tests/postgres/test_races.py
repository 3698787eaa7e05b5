"""Writes racing deletes, for real: 20 simultaneous requests against a uvicorn server on
PostgreSQL. Every loser is a 404 (the post or comment is gone) or a 401 (the account is gone),
never a 500, and nothing is left half-written. `tests/test_races.py` replays each race one at a
time, on SQLite and PostgreSQL alike."""

import hashlib
import secrets
from collections import Counter
from typing import Any

from sqlalchemy import create_engine, text

from blog.config import Settings
from tests.postgres.test_concurrency import all_at_once, register
from tests.servers import post_form, request


def new_post(base_url: str, author: dict[str, str]) -> int:
    status, post = request(f"{base_url}/posts", "POST", {"title": "t", "body": "b"}, author)
    assert status == 201, post
    return int(post["id"])


def count(database_url: str, sql: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return int(found)


def statuses_of(answers: list[tuple[int, Any]]) -> Counter[int]:
    return Counter(status for status, _ in answers)


def test_comments_racing_the_deletion_of_their_post(base_url: str, database_url: str) -> None:
    author = register(base_url, "author")
    readers = [register(base_url, f"reader_{index}") for index in range(4)]
    post_id = new_post(base_url, author)

    def comment_or_delete(index: int) -> tuple[int, Any]:
        if index == 10:
            return request(f"{base_url}/posts/{post_id}", "DELETE", headers=author)
        url = f"{base_url}/posts/{post_id}/comments"
        return request(url, "POST", {"body": f"comment {index}"}, readers[index % 4])

    answers = all_at_once(comment_or_delete)

    assert answers[10][0] == 204
    comments = statuses_of(answers[:10] + answers[11:])
    assert set(comments) <= {201, 404}, answers
    assert all(body["code"] == "not_found" for status, body in answers if status == 404)
    assert count(database_url, "SELECT count(*) FROM comments") == 0  # they went with the post
    print(f"\n19 comments racing the post's deletion: {dict(comments)}")


def test_edits_racing_a_delete(base_url: str, database_url: str) -> None:
    author = register(base_url, "author")
    post_id = new_post(base_url, author)

    def edit_or_delete(index: int) -> tuple[int, Any]:
        if index == 0:
            return request(f"{base_url}/posts/{post_id}", "DELETE", headers=author)
        body = {"title": f"edit {index}"}
        return request(f"{base_url}/posts/{post_id}", "PATCH", body, author)

    answers = all_at_once(edit_or_delete)

    assert answers[0][0] == 204
    edits = statuses_of(answers[1:])
    assert set(edits) <= {200, 404}, answers
    assert count(database_url, "SELECT count(*) FROM posts") == 0
    print(f"\n19 edits racing the post's deletion: {dict(edits)}")


def test_writes_racing_the_deletion_of_the_account(base_url: str, database_url: str) -> None:
    leaver = register(base_url, "leaver")
    stayer = register(base_url, "stayer")
    own_post = new_post(base_url, leaver)
    other_post = new_post(base_url, stayer)

    def write_or_leave(index: int) -> tuple[int, Any]:
        kind = index % 4
        if index == 0:
            return request(f"{base_url}/users/me", "DELETE", headers=leaver)
        if kind == 0:
            return request(f"{base_url}/posts", "POST", {"title": "t", "body": "b"}, leaver)
        if kind == 1:
            url = f"{base_url}/posts/{other_post}/comments"
            return request(url, "POST", {"body": "c"}, leaver)
        if kind == 2:
            return request(f"{base_url}/posts/{own_post}", "PATCH", {"title": "x"}, leaver)
        return request(f"{base_url}/users/me", "PATCH", {"bio": f"bio {index}"}, leaver)

    answers = all_at_once(write_or_leave)

    assert answers[0][0] == 204
    writes = statuses_of(answers[1:])
    assert set(writes) <= {200, 201, 401, 404}, answers
    assert count(database_url, "SELECT count(*) FROM users") == 1
    assert count(database_url, "SELECT count(*) FROM posts") == 1  # the stayer's
    assert count(database_url, "SELECT count(*) FROM comments") == 0
    print(f"\n19 writes racing the account's deletion: {dict(writes)}")


def test_one_reset_token_used_twenty_times_at_once_works_once(
    base_url: str, database_url: str
) -> None:
    register(base_url, "forgetful")
    token = secrets.token_urlsafe(32)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) "
                "SELECT id, :hash, now() + interval '10 minutes' FROM users"
            ),
            {"hash": hashlib.sha256(token.encode()).hexdigest()},
        )
    engine.dispose()

    def use_the_token(index: int) -> tuple[int, Any]:
        body = {"token": token, "new_password": f"new passphrase number {index}"}
        return request(f"{base_url}/auth/password-reset/confirm", "POST", body)

    answers = all_at_once(use_the_token)

    statuses = statuses_of(answers)
    # The losers used a spent token: each counts as a failure of this client, and past their
    # share (PASSWORD_RESET_CONFIRM_MAX_FAILURES) the rest are 429s.
    share = Settings.model_fields["password_reset_confirm_max_failures"].default
    failures = min(len(answers) - 1, share)
    assert statuses == {204: 1, 400: failures, 429: len(answers) - 1 - failures}, answers
    assert {body["code"] for status, body in answers if status == 400} == {"invalid_reset_token"}
    assert count(database_url, "SELECT count(*) FROM password_reset_tokens") == 0
    [winner] = [index for index, (status, _) in enumerate(answers) if status == 204]
    form = {"username": "forgetful", "password": f"new passphrase number {winner}"}
    assert post_form(f"{base_url}/auth/login", form)[0] == 200
    print(f"\n{len(answers)} uses of one reset token at once: {dict(statuses)}")
