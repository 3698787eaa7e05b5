"""Helpers for tests that start the app as a real server process and talk HTTP to it."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


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


def wait_until_healthy(base_url: str, server: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited:\n{server.communicate()[0]}")
        try:
            if request(f"{base_url}/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no 200 from {base_url}/health within {seconds} s")


@contextmanager
def running(
    command: list[str], env: dict[str, str], cwd: Path = REPO_ROOT
) -> Iterator[subprocess.Popen[str]]:
    """Start `command`, yield the process, and stop it (its output is in `.output` after)."""
    server = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so a shell's children are stopped with it
    )
    try:
        yield server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.output = server.communicate(timeout=15)[0]  # type: ignore[attr-defined]
