"""A client generated from `/openapi.json` by openapi-python-client works against the app.

Lesson: the OpenAPI document is a contract other programs build on. This test serves the app,
generates a Python client from its document with openapi-python-client (pinned, in a virtual
environment of its own: it needs httpx), and runs `tests/generated_client/journey.py` with it:
register, log in, write a post, comment, and a 409 read back in the error shape. A field the
document marks optional, an operation id repeated or a schema badly named shows up here first.
"""

import os
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.servers import REPO_ROOT, free_port, migrate, running, wait_until_healthy

pytestmark = pytest.mark.slow  # installs the generator and starts a server

GENERATOR = REPO_ROOT / "tests" / "generated_client"


def run(command: list[str], cwd: Path, tools: Path) -> str:
    """`command` with the generator's environment first on PATH (its post-hooks run ruff)."""
    path = f"{tools / 'bin'}{os.pathsep}{os.environ['PATH']}"
    environment = {**os.environ, "PATH": path, "PYTHONPATH": str(cwd)}
    done = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_generated_client_registers_posts_comments_and_reads_a_409(tmp_path: Path) -> None:
    tools = tmp_path / "generator"
    venv.create(tools, with_pip=True)
    python = str(tools / "bin" / "python")
    requirements = str(GENERATOR / "requirements.txt")
    run([python, "-m", "pip", "install", "-q", "-r", requirements], tmp_path, tools)

    database = f"sqlite:///{tmp_path / 'blog.db'}"
    migrate(database)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = {"DATABASE_URL": database, "ENVIRONMENT": "test", "BCRYPT_ROUNDS": "4"}
    command = [sys.executable, "-m", "uvicorn", "blog.main:app", "--port", str(port)]
    with running(command, {**os.environ, **settings}) as server:
        wait_until_healthy(base_url, server)
        document = tmp_path / "openapi.json"
        with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=30) as answer:
            document.write_bytes(answer.read())
        generator = str(tools / "bin" / "openapi-python-client")
        run([generator, "generate", "--path", str(document), "--meta", "none"], tmp_path, tools)
        journey = run([python, str(GENERATOR / "journey.py"), base_url], tmp_path, tools)
    assert journey.strip() == "journey: ok"
