"""Simultaneous requests against a real uvicorn server on PostgreSQL.

A uniqueness race (two registrations both see the email as free, both insert) is settled by the
database's unique constraint and must come back as 409, never 500. Comments written at the same
moment must all be stored and counted.
"""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.helpers import PASSWORD
from tests.servers import request

SIMULTANEOUS = 20


def all_at_once(send: Callable[[int], tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Run `send(0..19)` in 20 threads released together by a barrier."""
    start = threading.Barrier(SIMULTANEOUS)

    def at_the_same_time(index: int) -> tuple[int, Any]:
        start.wait()
        return send(index)

    with ThreadPoolExecutor(SIMULTANEOUS) as pool:
        return list(pool.map(at_the_same_time, range(SIMULTANEOUS)))


def register(base_url: str, username: str) -> dict[str, str]:
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    status, token = request(f"{base_url}/auth/register", "POST", body)
    assert status == 201, token
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_simultaneous_registrations_of_one_email_give_one_201(base_url: str) -> None:
    def register_same_email(index: int) -> tuple[int, Any]:
        body = {"email": "race@example.com", "username": f"racer_{index}", "password": PASSWORD}
        return request(f"{base_url}/auth/register", "POST", body)

    answers = all_at_once(register_same_email)

    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 409: SIMULTANEOUS - 1}, answers
    assert {body["code"] for status, body in answers if status == 409} == {"email_taken"}
    page = request(f"{base_url}/users")[1]
    assert page["total"] == 1
    print(f"\n{SIMULTANEOUS} simultaneous registrations of one email: {dict(statuses)}")


def test_simultaneous_registrations_of_one_username_give_one_201(base_url: str) -> None:
    def register_same_username(index: int) -> tuple[int, Any]:
        body = {"email": f"racer{index}@example.com", "username": "Racer", "password": PASSWORD}
        return request(f"{base_url}/auth/register", "POST", body)

    statuses = Counter(status for status, _ in all_at_once(register_same_username))
    assert statuses == {201: 1, 409: SIMULTANEOUS - 1}


def test_simultaneous_comments_are_all_stored_and_counted(base_url: str) -> None:
    author = register(base_url, "author")
    readers = [register(base_url, f"reader_{index}") for index in range(4)]
    status, post = request(
        f"{base_url}/posts", "POST", {"title": "Busy", "body": "Comment here."}, author
    )
    assert status == 201

    def comment(index: int) -> tuple[int, Any]:
        body = {"body": f"comment {index}"}
        return request(f"{base_url}/posts/{post['id']}/comments", "POST", body, readers[index % 4])

    answers = all_at_once(comment)

    assert [status for status, _ in answers] == [201] * SIMULTANEOUS
    assert request(f"{base_url}/posts/{post['id']}")[1]["comment_count"] == SIMULTANEOUS
    page = request(f"{base_url}/posts/{post['id']}/comments?limit=100")[1]
    assert page["total"] == SIMULTANEOUS
    assert sorted(item["body"] for item in page["items"]) == sorted(
        f"comment {index}" for index in range(SIMULTANEOUS)
    )
