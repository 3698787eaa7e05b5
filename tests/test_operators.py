"""`python -m blog users deactivate|activate USERNAME`: an operator shuts an account out, and
lets it back in without reviving anything it held before."""

import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi import WebSocketDisconnect
from fastapi.testclient import TestClient
from sqlalchemy import Engine

import blog.__main__ as blog_main
from blog import operators
from blog.config import settings
from tests.helpers import Account, assert_error
from tests.servers import REPO_ROOT, migrate

TOKEN_IN_EMAIL = re.compile(r"token=([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")


@pytest.fixture
def command(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`python -m blog users ...` in this process, on the test database."""
    monkeypatch.setattr(operators, "engine", engine)
    monkeypatch.setattr(blog_main, "apply_migrations", lambda: None)  # the tables are there
    return lambda *words: blog_main.main(["users", *words])


@pytest.fixture
def reset_token(
    client: TestClient,
    user: Account,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A reset token emailed (through the console backend) to `user` before anything else."""
    monkeypatch.setattr(settings, "environment", "development")  # the console shows emails
    with caplog.at_level(logging.INFO, logger="blog.mail"):
        client.post("/auth/password-reset", json={"email": user.email})
        [token] = TOKEN_IN_EMAIL.findall(caplog.text)
    yield token


def log_in(client: TestClient, account: Account) -> int:
    form = {"username": account.username, "password": account.password}
    return client.post("/auth/login", data=form).status_code


def confirm_reset(client: TestClient, token: str) -> httpx2.Response:
    body = {"token": token, "new_password": "a brand new passphrase"}
    return client.post("/auth/password-reset/confirm", json=body)


def test_deactivating_ends_the_tokens_the_reset_links_and_the_logins(
    client: TestClient, user: Account, reset_token: str, command: Callable[..., None]
) -> None:
    command("deactivate", user.username.upper())  # usernames in any case, as at login
    assert_error(client.get("/users/me", headers=user.headers), 401, "invalid_token")
    assert_error(confirm_reset(client, reset_token), 400, "invalid_reset_token")
    assert log_in(client, user) == 400


def test_activating_lets_the_account_in_again_and_revives_nothing(
    client: TestClient, user: Account, reset_token: str, command: Callable[..., None]
) -> None:
    command("deactivate", user.username)
    command("activate", user.username)
    assert log_in(client, user) == 200
    assert_error(client.get("/users/me", headers=user.headers), 401, "invalid_token")
    assert_error(confirm_reset(client, reset_token), 400, "invalid_reset_token")


def test_deactivating_closes_the_accounts_sockets_in_this_process(
    client: TestClient, user: Account, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operators, "engine", engine)
    url = f"/ws/notifications?token={user.token}"
    with client.websocket_connect(url) as socket:
        assert socket.receive_json()["type"] == "ready"
        assert client.portal is not None  # the app's own event loop, where its sockets live
        client.portal.call(operators.change_account, "deactivate", user.username)
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 1008


def test_a_deactivated_account_opens_no_socket(
    client: TestClient, user: Account, command: Callable[..., None]
) -> None:
    command("deactivate", user.username)
    url = f"/ws/notifications?token={user.token}"
    with client.websocket_connect(url) as socket, pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json()
    assert closed.value.code == 1008


def test_the_command_says_what_it_did_and_what_redis_would_add(
    user: Account,
    command: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "redis_url", None)
    command("deactivate", user.username)
    said = capsys.readouterr().out
    assert f"blog: {user.username} is deactivated." in said
    assert "Without REDIS_URL" in said
    command("activate", user.username)
    assert capsys.readouterr().out == f"blog: {user.username} is activated.\n"


@pytest.mark.parametrize(
    "words",
    [(), ("deactivate",), ("delete", "ada"), ("activate", "")],
    ids=["nothing", "no username", "unknown action", "empty username"],
)
def test_a_wrong_command_says_how_to_write_it(
    command: Callable[..., None], words: tuple[str, ...]
) -> None:
    with pytest.raises(SystemExit, match=re.escape(operators.USAGE)):
        command(*words)


def test_an_unknown_username_changes_nothing_and_says_so(
    client: TestClient, user: Account, command: Callable[..., None]
) -> None:
    with pytest.raises(SystemExit, match="there is no account named 'nobody'"):
        command("deactivate", "nobody")
    assert client.get("/users/me", headers=user.headers).status_code == 200


@pytest.mark.slow  # starts a Python process
def test_the_command_runs_as_the_docs_write_it(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'blog.db'}"
    migrate(database)
    environment = {"DATABASE_URL": database, "ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "blog", "users", "deactivate", "nobody"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith("there is no account named 'nobody'")
