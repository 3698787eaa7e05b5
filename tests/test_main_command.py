"""`python -m blog`: migrate, then serve; checked in-process and as a real server on a real port."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

import blog.__main__ as blog_main
from blog.config import settings
from tests.conftest import PASSWORD

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_main_applies_migrations_then_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "blog.db"
    monkeypatch.setattr(settings, "database_url", f"sqlite:///{database}")
    served: dict[str, object] = {}
    monkeypatch.setattr(blog_main.uvicorn, "run", lambda app, **options: served.update(options))

    blog_main.main(["--host", "0.0.0.0", "--port", "9001", "--reload"])

    assert served == {"host": "0.0.0.0", "port": 9001, "reload": True}
    engine = create_engine(f"sqlite:///{database}")
    assert "users" in inspect(engine).get_table_names()
    engine.dispose()
    assert "docs at http://0.0.0.0:9001/docs" in capsys.readouterr().out


def test_default_options_serve_on_localhost_8000() -> None:
    options = blog_main.parse_args([])
    assert (options.host, options.port, options.reload) == ("127.0.0.1", 8000, False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data, headers or {}), timeout=5
        ) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_up(base_url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            if request(f"{base_url}/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the server did not answer /health within 30 s")


def test_python_m_blog_serves_a_fresh_sqlite_database(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATABASE_URL": "",  # unset below: the default sqlite:///./blog.db in the working dir
        "PYTHONPATH": str(REPO_ROOT),
    }
    del environment["DATABASE_URL"]
    server = subprocess.Popen(
        [sys.executable, "-m", "blog", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(base_url, server)
        assert (tmp_path / "blog.db").exists()
        body = json.dumps({"email": "ada@example.com", "username": "ada", "password": PASSWORD})
        status, _ = request(
            f"{base_url}/auth/register", body.encode(), {"Content-Type": "application/json"}
        )
        assert status == 201
        status, page = request(f"{base_url}/docs")
        assert status == 200 and b"/static-offline-docs/swagger-ui-bundle.js" in page
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert f"docs at http://127.0.0.1:{port}/docs" in output
