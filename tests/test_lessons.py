"""The copy order works: every step of the README, followed literally in an empty folder, gives
an app that starts and a green run of that step's tests.

Lesson: the README's copy steps are generated from `tests/lessons.py`, and this test follows the
same steps in a new folder, one after the other, as a student would: copy the step's files, apply
its lines to the two wiring files, run its `alembic revision --autogenerate`, `alembic upgrade
head` and `alembic check`, start `python -m blog` on a free port and try what the step promises,
then run the step's test files there, unedited. Slow (a few minutes), so `-m "not slow"` leaves it
out while you work; CI runs it.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PASSWORD
from tests.lessons import (
    README_END,
    README_START,
    STEPS,
    copy_step,
    finish_migration,
    readme_section,
)
from tests.servers import REPO_ROOT, free_port, post_form, request, running, wait_until_healthy

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def the_app_shell(base_url: str) -> None:
    assert request(f"{base_url}/health") == (200, {"ok": True, "database": "ok"})
    status, body = request(f"{base_url}/nope")
    assert (status, body["code"]) == (404, "not_found")


def accounts(base_url: str) -> None:
    body = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    assert request(f"{base_url}/auth/register", "POST", body)[0] == 201
    status, _ = post_form(f"{base_url}/auth/login", {"username": "ada", "password": PASSWORD})
    assert status == 200
    token = request(f"{base_url}/auth/register", "POST", {**body, "username": "ada2"})
    assert token[0] == 409  # the email is taken


def sign_in(base_url: str, username: str) -> dict[str, str]:
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    status, token = request(f"{base_url}/auth/register", "POST", body)
    assert status == 201, token
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert request(f"{base_url}/users/me", headers=headers)[1]["username"] == username
    return headers


def posts(base_url: str) -> None:
    author = sign_in(base_url, "grace")
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


PROMISES: dict[int, Callable[[str], None]] = {
    1: the_app_shell,
    2: accounts,
    3: posts,
    4: comments,
    5: demo_data,
}


def run(command: list[str], folder: Path, environment: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=folder, env=environment, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_shows_the_steps_of_the_manifest() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    assert readme[start:end] == readme_section(), "run: .venv/bin/python -m tests.lessons"


def test_every_file_of_the_repository_comes_with_one_step() -> None:
    listed = [path for step in STEPS for path in step.files + step.tests]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    expected = [path for path in tracked if not path.startswith("alembic/versions/")]
    assert sorted(listed) == sorted(expected)  # each once; the migrations are the student's own


FOLDER_CHECKS = (
    test_the_readme_shows_the_steps_of_the_manifest,
    test_every_file_of_the_repository_comes_with_one_step,
)


def test_each_step_starts_and_passes_its_tests_in_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my-blog"
    folder.mkdir()
    # A student's machine: development settings, none of the suite's extra servers.
    environment = {
        name: value
        for name, value in os.environ.items()
        if name
        not in {
            "PYTEST_ADDOPTS",
            "TEST_DATABASE_URL",
            "TEST_REDIS_URL",
            "DATABASE_URL",
            "JWT_SECRET",
        }
    }
    environment |= {"ENVIRONMENT": "development", "PYTHONPATH": str(folder)}
    run(["git", "init", "-q"], folder, environment)  # as step 1 says
    for number, step in enumerate(STEPS, start=1):
        copy_step(number, folder)
        if step.migration:
            run(
                [str(BIN / "alembic"), "revision", "--autogenerate", "-m", step.migration],
                folder,
                environment,
            )
            finish_migration(number, folder)
        run([str(BIN / "alembic"), "upgrade", "head"], folder, environment)
        assert "No new upgrade operations" in run(
            [str(BIN / "alembic"), "check"], folder, environment
        )

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        if number == 5:
            run([sys.executable, "-m", "blog", "seed"], folder, environment)
        command = [sys.executable, "-m", "blog", "--port", str(port)]
        with running(command, environment, cwd=folder) as server:
            wait_until_healthy(base_url, server)
            PROMISES[number](base_url)

        # This file is the last step's too: there it checks the student's README and files,
        # but does not start all over again in a folder of its own.
        tests = [path for path in step.tests if path != "tests/test_lessons.py"]
        if "tests/test_lessons.py" in step.tests:
            tests += [f"tests/test_lessons.py::{test.__name__}" for test in FOLDER_CHECKS]
        summary = run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
            folder,
            environment,
        )
        assert " passed" in summary.strip().splitlines()[-1], summary
    # One migration per step that adds tables, named as the steps say.
    slugs = {path.name.split("_", 4)[-1] for path in (folder / "alembic" / "versions").glob("*.py")}
    assert slugs == {"create_users.py", "add_posts.py", "add_comments.py"}
