"""`python -m blog`: migrate, then serve; checked in-process and as a real server on a real port."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, inspect

import blog.__main__ as blog_main
from blog import seed
from blog.config import (
    settings,
)
from blog.connections import LimitedH11Protocol, LimitedWebSocketProtocol
from blog.database import make_engine
from tests.helpers import PASSWORD
from tests.servers import (
    REPO_ROOT,
    free_port,
    migrate,
    request,
    response_headers,
    running,
    wait_until_healthy,
)


def test_main_applies_migrations_then_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "blog.db"
    monkeypatch.setattr(settings, "database_url", f"sqlite:///{database}")
    monkeypatch.setattr(seed, "engine", make_engine(settings.database_url))
    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options))

    blog_main.main(["--host", "0.0.0.0", "--port", "9001", "--reload"])

    assert served == {
        "host": "0.0.0.0",
        "port": 9001,
        "reload": True,
        "ws_max_size": 65536,
        "http": LimitedH11Protocol,
        "ws": LimitedWebSocketProtocol,
        "h11_max_incomplete_event_size": 16384,
        "limit_concurrency": 900,
        "server_header": False,
        "ws_per_message_deflate": False,
    }
    engine = create_engine(f"sqlite:///{database}")
    assert {"users", "posts", "comments"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    assert "docs at http://0.0.0.0:9001/docs" in capsys.readouterr().out


def test_before_the_seed_module_is_there_nothing_offers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings, "database_url", f"sqlite:///{tmp_path / 'blog.db'}")
    monkeypatch.setattr(seed, "engine", make_engine(settings.database_url))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    seed_module = tmp_path / "seed.py"
    monkeypatch.setattr(blog_main, "SEED_MODULE", seed_module)
    blog_main.main([])  # a copy before the step that brings blog/seed.py
    assert "blog seed" not in capsys.readouterr().out
    seed_module.touch()
    blog_main.main([])
    assert "blog seed" in capsys.readouterr().out
    seed_module.unlink()
    with pytest.raises(SystemExit, match=r"blog/seed\.py is not there yet"):
        blog_main.main(["seed"])


def test_the_seed_is_offered_only_while_there_are_no_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings, "database_url", f"sqlite:///{tmp_path / 'blog.db'}")
    engine = make_engine(settings.database_url)
    monkeypatch.setattr(seed, "engine", engine)
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    blog_main.main([])
    assert "no data yet" in capsys.readouterr().out
    blog_main.main(["seed"])
    blog_main.main([])
    assert "no data yet" not in capsys.readouterr().out
    engine.dispose()


def test_production_is_never_offered_the_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings, "database_url", f"sqlite:///{tmp_path / 'blog.db'}")
    monkeypatch.setattr(seed, "engine", make_engine(settings.database_url))
    monkeypatch.setattr(settings, "environment", "production")
    blog_main.offer_the_seed()
    assert capsys.readouterr().out == ""


def test_the_seed_command_is_spelled_as_this_python_is_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / ".venv" / "bin" / "python"))
    assert blog_main.python_command() == os.path.join(".venv", "bin", "python")
    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")  # outside the folder
    assert blog_main.python_command() == "/usr/bin/python3"


def test_default_options_serve_on_localhost_8000() -> None:
    options = blog_main.parse_args([])
    assert (options.host, options.port, options.reload) == ("127.0.0.1", 8000, False)


def environment_for_a_fresh_checkout(**overrides: str) -> dict[str, str]:
    """The environment of someone who cloned the repo: no blog settings but what is given."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "JWT_SECRET", "ENVIRONMENT", "BCRYPT_ROUNDS"}
    }
    return {**environment, "PYTHONPATH": str(REPO_ROOT), **overrides}


@pytest.mark.slow  # starts a Python process
def test_help_is_only_the_usage_in_a_fresh_checkout(tmp_path: Path) -> None:
    """No JWT_SECRET warning in the middle of --help: the app warns when it starts, not before."""
    result = subprocess.run(
        [sys.executable, "-m", "blog", "--help"],
        cwd=tmp_path,
        env=environment_for_a_fresh_checkout(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.startswith(f"usage: {sys.executable} -m blog")  # as it was run
    assert "seed" in result.stdout and "--port" in result.stdout
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == []  # no development secret, no database: nothing ran


@pytest.mark.slow  # starts a server or a Python process
def test_python_m_blog_serves_a_fresh_sqlite_database(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "blog", "--port", str(port)]
    with running(command, environment_for_a_fresh_checkout(), cwd=tmp_path) as server:
        wait_until_healthy(base_url, server)
        assert (tmp_path / "blog.db").exists()  # the default DATABASE_URL, in the working dir
        body = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
        assert request(f"{base_url}/auth/register", "POST", body)[0] == 201
        status, page = request(f"{base_url}/docs")
        assert status == 200 and b"/static-offline-docs/swagger-ui-bundle.js" in page
        headers = response_headers(f"{base_url}/health")
        assert "server" not in headers  # no `server: uvicorn` for scanners
        assert headers["x-content-type-options"] == "nosniff"
    assert f"docs at http://127.0.0.1:{port}/docs" in server.output  # type: ignore[attr-defined]
    assert "JWT_SECRET is not set" in server.output  # type: ignore[attr-defined]


@pytest.mark.slow  # starts a server or a Python process
def test_an_unreachable_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    url = "postgresql://blog:s3cret-password@127.0.0.1:1/blog"  # nothing listens on port 1
    result = subprocess.run(
        [sys.executable, "-m", "blog"],
        cwd=tmp_path,
        env=environment_for_a_fresh_checkout(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if "DATABASE_URL" in line]
    assert line.startswith(
        "DATABASE_URL: cannot connect to postgresql+psycopg2://blog:***@127.0.0.1:1/blog: "
    )
    assert "s3cret-password" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # starts a server or a Python process
@pytest.mark.parametrize(
    ("wrong", "line"),
    [
        (
            {"DATABASE_URL": "not a url, password=hunter2"},
            "Invalid configuration: DATABASE_URL: is not a database URL "
            "(like postgresql://user:pass@host/db)",
        ),
        (
            {"ENVIRONMENT": "production", "JWT_SECRET": "short"},
            "Invalid configuration: JWT_SECRET must be set to at least 32 bytes when "
            "ENVIRONMENT=production (generate one with: "
            'python3 -c "import secrets; print(secrets.token_urlsafe(32))")',
        ),
    ],
)
def test_a_wrong_setting_stops_start_up_with_one_line(
    tmp_path: Path, wrong: dict[str, str], line: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "blog"],
        cwd=tmp_path,
        env=environment_for_a_fresh_checkout(**wrong),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [line]


@pytest.mark.slow  # starts a server or a Python process
def test_two_workers_without_a_jwt_secret_accept_each_others_tokens(tmp_path: Path) -> None:
    """Development without JWT_SECRET: both workers sign with the folder's one secret, so a token
    from either works on both (with a secret per process, every other request was a 401)."""
    migrate(f"sqlite:///{tmp_path / 'blog.db'}")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "blog.main:app", "--workers", "2"]
    environment = environment_for_a_fresh_checkout()
    with running([*command, "--port", str(port)], environment, tmp_path) as server:
        wait_until_healthy(base_url, server)
        body = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
        token = request(f"{base_url}/auth/register", "POST", body)[1]["access_token"]
        signed_in = {"Authorization": f"Bearer {token}"}
        answers = [request(f"{base_url}/users/me", headers=signed_in)[0] for _ in range(30)]
    assert answers == [200] * 30
    assert (tmp_path / ".dev-jwt-secret").exists()
