"""The lessons work: each one, followed literally in an empty folder, gives an app that starts,
keeps its promise over HTTP and passes that lesson's tests; each exercise's test fails on its
lesson's checkpoint and passes once its solution is applied.

Lesson: `docs/lessons/` is generated from `tests/lessons.py`, and this test follows the same
lessons in a new folder, one after the other, as a student would: copy the lesson's files (leaving
out the lines marked for a later lesson), add the marked lines of earlier files, run its `alembic
revision --autogenerate`, `alembic upgrade head` and `alembic check`, start `python -m blog` on a
free port and try what the lesson promises, then run the lesson's test files there, unedited.
Slow (a few minutes), so `-m "not slow"` leaves it out while you work; CI runs it. The checks of
the text itself (generated, every file in one lesson, every checkpoint valid Python) are fast.
"""

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.sync.client import connect

from tests.helpers import PASSWORD
from tests.lessons import (
    INDEX_END,
    INDEX_START,
    LESSONS,
    LESSONS_FOLDER,
    MARKS_END,
    MARKS_START,
    copy_step,
    file_at,
    finish_migration,
    lesson_index,
    lesson_pages,
    marked_lines,
)
from tests.servers import REPO_ROOT, free_port, post_form, request, running, wait_until_healthy

BIN = Path(sys.executable).parent
Promise = Callable[[str], None]


def generated_part(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end) + len(end)]


def test_the_lesson_pages_and_both_indexes_are_generated_from_the_lessons() -> None:
    pages = lesson_pages()
    assert sorted(LESSONS_FOLDER.glob("[0-9][0-9]-*.md")) == sorted(pages)
    for page, text in pages.items():
        assert page.read_text() == text, f"{page.name}: run .venv/bin/python -m tests.lessons"
    index = (LESSONS_FOLDER / "index.md").read_text()
    assert generated_part(index, INDEX_START, INDEX_END) == lesson_index("")
    assert generated_part(index, MARKS_START, MARKS_END) == marked_lines()
    readme = (REPO_ROOT / "README.md").read_text()
    assert generated_part(readme, INDEX_START, INDEX_END) == lesson_index()


def test_every_file_of_the_repository_comes_with_one_lesson() -> None:
    listed = [path for lesson in LESSONS for path in lesson.copied]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    expected = [path for path in tracked if not path.startswith("alembic/versions/")]
    assert sorted(listed) == sorted(expected)  # each once; the migrations are the student's own


def test_every_file_is_valid_python_at_every_lesson() -> None:
    for number in range(1, len(LESSONS) + 1):
        for lesson in LESSONS[:number]:
            for path in lesson.copied:
                if path.endswith(".py"):
                    ast.parse(file_at(path, number), f"{path} at lesson {number}")


FOLDER_CHECKS = (
    test_the_lesson_pages_and_both_indexes_are_generated_from_the_lessons,
    test_every_file_of_the_repository_comes_with_one_lesson,
    test_every_file_is_valid_python_at_every_lesson,
)


def sign_in(base_url: str, username: str) -> dict[str, str]:
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    status, token = request(f"{base_url}/auth/register", "POST", body)
    assert status == 201, token
    return {"Authorization": f"Bearer {token['access_token']}"}


def settings_and_secrets(base_url: str) -> None:
    status, page = request(f"{base_url}/docs")
    assert status == 200 and b"swagger-ui" in page
    assert request(f"{base_url}/openapi.json")[1]["info"]["title"] == "blog"


def health(base_url: str) -> None:
    assert request(f"{base_url}/health") == (200, {"ok": True, "database": "ok"})


def one_error_shape(base_url: str) -> None:
    assert request(f"{base_url}/nope") == (404, {"detail": "Not Found", "code": "not_found"})


def users_table(base_url: str) -> None:
    assert request(f"{base_url}/users")[1]["items"] == []
    assert request(f"{base_url}/users/0")[1]["code"] == "validation_error"
    assert request(f"{base_url}/users/1")[1]["code"] == "not_found"


def registering(base_url: str) -> None:
    body = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    status, token = request(f"{base_url}/auth/register", "POST", body)
    assert (status, token["token_type"]) == (201, "bearer")
    again = request(f"{base_url}/auth/register", "POST", {**body, "username": "ada2"})
    assert (again[0], again[1]["code"]) == (409, "email_taken")
    weak = request(f"{base_url}/auth/register", "POST", {**body, "password": "password"})
    assert weak[0] == 422


def jwt_login(base_url: str) -> None:
    status, _ = post_form(f"{base_url}/auth/login", {"username": "ada", "password": PASSWORD})
    assert status == 200
    headers = sign_in(base_url, "grace")
    assert request(f"{base_url}/users/me", headers=headers)[1]["username"] == "grace"
    assert request(f"{base_url}/users/me")[1]["code"] == "not_authenticated"


def own_account(base_url: str) -> None:
    headers = sign_in(base_url, "knuth")
    assert request(f"{base_url}/users/me", "PATCH", {"bio": "TeX"}, headers)[1]["bio"] == "TeX"
    assert request(f"{base_url}/auth/logout", "POST", None, headers)[0] == 204
    assert request(f"{base_url}/users/me", headers=headers)[1]["code"] == "invalid_token"


def background_email(base_url: str) -> None:
    sign_in(base_url, "hopper")  # the log shows the welcome email (tests/test_mail.py checks it)


def websocket_echo(base_url: str) -> None:
    with connect(base_url.replace("http", "ws") + "/ws/notify") as socket:
        socket.send("hi")
        assert socket.recv(timeout=10) == "Echo: hi"


def posts(base_url: str) -> None:
    author = sign_in(base_url, "lovelace")
    status, post = request(f"{base_url}/posts", "POST", {"title": "Hi", "body": "b"}, author)
    assert status == 201
    page = request(f"{base_url}/posts")[1]
    assert [(item["id"], item["comment_count"]) for item in page["items"]] == [(post["id"], 0)]


def comments(base_url: str) -> None:
    reader = sign_in(base_url, "linus")
    post_id = request(f"{base_url}/posts")[1]["items"][0]["id"]
    url = f"{base_url}/posts/{post_id}/comments"
    assert request(url, "POST", {"body": "Nice"}, reader)[0] == 201
    assert request(f"{base_url}/posts/{post_id}")[1]["comment_count"] == 1


def demo_data(base_url: str) -> None:
    assert request(f"{base_url}/users")[1]["total"] >= 3


def request_logs(base_url: str) -> None:
    status, headers = post_form(f"{base_url}/auth/login", {"username": "x", "password": "y"})
    assert status == 400 and headers["x-request-id"]


def status_for_an_announced_body(base_url: str, path: str, length: int) -> int:
    """POST that announces `length` bytes and sends none: the body limit answers from the
    header alone. (Sending 2 MB raced the server's 413 and close: a broken pipe, now and then.)"""
    connection = HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def hardening(base_url: str) -> None:
    headers = post_form(f"{base_url}/auth/login", {"username": "x", "password": "y"})[1]
    assert headers["x-content-type-options"] == "nosniff"
    assert status_for_an_announced_body(base_url, "/auth/register", 2_000_000) == 413


def capacity(base_url: str) -> None:
    health(base_url)  # the limits hold under load: tests/test_capacity.py


def rate_limits(base_url: str) -> None:
    answers = [
        post_form(f"{base_url}/auth/login", {"username": "ada", "password": "wrong password"})[0]
        for _ in range(11)
    ]
    assert answers == [400] * 10 + [429]


def recovery(base_url: str) -> None:
    body = {"email": "ada@example.com"}
    assert request(f"{base_url}/auth/password-reset", "POST", body)[0] == 202


def notifications(base_url: str) -> None:
    token = sign_in(base_url, "turing")["Authorization"].removeprefix("Bearer ")
    url = base_url.replace("http", "ws") + f"/ws/notifications?token={token}"
    with connect(url) as socket:
        assert '"ready"' in str(socket.recv(timeout=10))


METRICS_TOKEN = "a-long-random-token"  # as lesson 21 starts the app


def monitoring(base_url: str) -> None:
    assert request(f"{base_url}/metrics")[0] == 401
    status, text = request(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert status == 200 and b"blog_http_requests_total{" in text


def deep_pages(base_url: str) -> None:
    """Two posts at least by now (lesson 10's and the seed's): a page of one names the next."""
    first = request(f"{base_url}/posts?limit=1")[1]
    assert first["next"] == f"/posts?limit=1&before={first['items'][0]['id']}"
    second = request(f"{base_url}{first['next']}")[1]
    assert second["items"][0]["id"] < first["items"][0]["id"]


def student_environment(folder: Path) -> dict[str, str]:
    """A student's machine: development settings, none of the suite's extra servers."""
    left_out = {
        "PYTEST_ADDOPTS",
        "TEST_DATABASE_URL",
        "TEST_REDIS_URL",
        "DATABASE_URL",
        "JWT_SECRET",
    }
    environment = {name: value for name, value in os.environ.items() if name not in left_out}
    # METRICS_TOKEN too: lesson 21 starts the app with it; earlier lessons ignore it.
    student = {
        "ENVIRONMENT": "development",
        "PYTHONPATH": str(folder),
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    return environment | student


def deactivation(base_url: str, folder: Path) -> None:
    """The operator's command, run in the student's folder beside the running server."""
    signed_in = sign_in(base_url, "hedy")
    command = [str(BIN / "python"), "-m", "blog", "users"]
    run([*command, "deactivate", "hedy"], folder, student_environment(folder))
    assert request(f"{base_url}/users/me", headers=signed_in)[0] == 401
    run([*command, "activate", "hedy"], folder, student_environment(folder))
    form = {"username": "hedy", "password": PASSWORD}
    assert post_form(f"{base_url}/auth/login", form)[0] == 200


def over_http(promise: Promise) -> Callable[[str, Path], None]:
    """A promise kept over HTTP alone: the student's folder is not needed."""
    return lambda base_url, _folder: promise(base_url)


PROMISES: tuple[Callable[[str, Path], None], ...] = (
    *map(
        over_http,
        (
            settings_and_secrets,
            health,
            one_error_shape,
            users_table,
            registering,
            jwt_login,
            own_account,
            background_email,
            websocket_echo,
            posts,
            comments,
            demo_data,
            request_logs,
            hardening,
            capacity,
            rate_limits,
            recovery,
            notifications,
        ),
    ),
    deactivation,
    over_http(deep_pages),
    over_http(monitoring),
)


def run(command: list[str], folder: Path, environment: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=folder, env=environment, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def pytest_summary(tests: list[str], folder: Path, environment: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr


def check_the_exercise(number: int, folder: Path, environment: dict[str, str]) -> None:
    """The exercise's test fails on the checkpoint and passes with its solution; then the
    checkpoint is put back, so the next lesson starts where the text says."""
    exercise = LESSONS[number - 1].exercise
    if exercise is None:
        return
    test = folder / "tests" / Path(exercise.test).name
    test.write_text((REPO_ROOT / exercise.test).read_text())
    before = pytest_summary([str(test)], folder, environment)
    assert " failed" in before and " error" not in before, before
    patch = str(REPO_ROOT / exercise.solution)
    run(["git", "apply", patch], folder, environment)
    after = pytest_summary([str(test)], folder, environment)
    assert " passed" in after and " failed" not in after, after
    run(["git", "apply", "-R", patch], folder, environment)
    test.unlink()


@pytest.mark.slow
def test_each_lesson_starts_and_passes_its_tests_in_an_empty_folder(tmp_path: Path) -> None:
    assert len(PROMISES) == len(LESSONS)
    folder = tmp_path / "my-blog"
    folder.mkdir()
    environment = student_environment(folder)
    run(["git", "init", "-q"], folder, environment)  # as lesson 1 says
    for number, lesson in enumerate(LESSONS, start=1):
        copy_step(number, folder)
        if lesson.migration:
            run(
                [str(BIN / "alembic"), "revision", "--autogenerate", "-m", lesson.migration],
                folder,
                environment,
            )
            finish_migration(number, folder)
        if (folder / "alembic" / "env.py").exists():  # from lesson 2 on
            run([str(BIN / "alembic"), "upgrade", "head"], folder, environment)
            assert "No new upgrade operations" in run(
                [str(BIN / "alembic"), "check"], folder, environment
            )
        for program, *arguments in (command.split() for command in lesson.commands):
            run([str(BIN / program), *arguments], folder, environment)
        if lesson.title.startswith("Push to deploy"):
            run([sys.executable, "-m", "blog", "seed"], folder, environment)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        # As the lesson says (`.venv/bin/python -m blog`, or uvicorn before `__main__.py`).
        program, *arguments = lesson.serve.split()
        command = [str(BIN / Path(program).name), *arguments, "--port", str(port)]
        with running(command, environment, cwd=folder) as server:
            wait_until_healthy(base_url, server, path="/openapi.json")
            PROMISES[number - 1](base_url, folder)

        # This file is the last lesson's too: there it checks the student's files, but does
        # not start all over again in a folder of its own.
        tests = [path for path in lesson.tests if path != "tests/test_lessons.py"]
        if "tests/test_lessons.py" in lesson.tests:
            tests += [f"tests/test_lessons.py::{test.__name__}" for test in FOLDER_CHECKS]
        summary = pytest_summary(tests, folder, environment)
        assert " passed" in summary and " failed" not in summary, f"lesson {number}: {summary}"
        check_the_exercise(number, folder, environment)
    # One migration per lesson that adds tables, named as the lessons say.
    slugs = {path.name.split("_", 4)[-1] for path in (folder / "alembic" / "versions").glob("*.py")}
    expected = {
        f"{lesson.migration.replace(' ', '_')}.py" for lesson in LESSONS if lesson.migration
    }
    assert slugs == expected
