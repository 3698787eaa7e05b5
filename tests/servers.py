"""Helpers for tests that start the app as a real server process and talk HTTP to it."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

REPO_ROOT = Path(__file__).resolve().parent.parent


def migrate(url: str) -> None:
    """Apply every Alembic migration to the database at `url`, as a deployment would."""
    engine = create_engine(url)
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["connection"] = engine
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    engine.dispose()


def railway_deploy() -> dict[str, Any]:
    """The `deploy` section of `railway.json`: the one place the start and pre-deploy commands
    live (the Procfile carries the same lines, `tests/test_deploy_config.py` checks)."""
    deploy: dict[str, Any] = json.loads((REPO_ROOT / "railway.json").read_text())["deploy"]
    return deploy


def start_command(python: str, port: int) -> list[str]:
    """`railway.json`'s start command, on a local port, without uvicorn's access log."""
    words = shlex.split(railway_deploy()["startCommand"])
    assert words[0] == "uvicorn", words
    words[words.index("--host") + 1] = "127.0.0.1"
    words[words.index("--port") + 1] = str(port)
    return [python, "-m", *words, "--no-access-log"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(
    url: str, method: str = "GET", json_body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """(status, parsed JSON or raw bytes) for one HTTP request; errors are answers too."""
    data = json.dumps(json_body).encode() if json_body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    prepared = urllib.request.Request(url, data, all_headers, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def lower_case(headers: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def response_headers(url: str) -> dict[str, str]:
    """The headers of a GET's answer, names in lower case."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return lower_case(response.headers)


def post_form(url: str, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
    """(status, headers with lower-case names) for a POST of an HTML form (`/auth/login`)."""
    data = urllib.parse.urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    prepared = urllib.request.Request(url, data, headers, method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, lower_case(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, lower_case(error.headers)


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's memory from /proc: resident now (`VmRSS`) or at its highest (`VmHWM`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def wait_until_healthy(
    base_url: str, server: subprocess.Popen[str], seconds: float = 30, path: str = "/health"
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode}")
        try:
            if request(f"{base_url}{path}")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no 200 from {base_url}{path} within {seconds} s")


@contextmanager
def serving_the_start_command(folder: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """(port, process) of `railway.json`'s start command, healthy, on a new SQLite file in
    `folder`: the server a client of the deployed app meets."""
    database = f"sqlite:///{folder / 'blog.db'}"
    migrate(database)
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database, "ENVIRONMENT": "test"}
    with running(start_command(sys.executable, port), environment) as server:
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
        yield port, server


@contextmanager
def running(
    command: list[str], env: dict[str, str], cwd: Path = REPO_ROOT
) -> Iterator[subprocess.Popen[str]]:
    """Start `command`, yield the process, and stop it (its output is in `.output` after).

    The output goes to a file, not a pipe: a pipe nobody reads fills up after 64 KiB of logs,
    and then the server blocks on its next log line.
    """
    with tempfile.TemporaryFile(mode="w+") as output:
        server = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so a shell's children are stopped with it
        )
        try:
            yield server
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
            output.seek(0)
            server.output = output.read()  # type: ignore[attr-defined]
