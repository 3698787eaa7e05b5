"""What a student does after each step: run one test file on its own, and see it pass. The
coverage gate is CI's, over the whole suite (`.ci/run`), so it cannot fail a single file."""

import os
import subprocess
import sys

import pytest

from tests.servers import REPO_ROOT


@pytest.mark.slow  # starts a server or a Python process
def test_one_test_file_runs_green_on_its_own() -> None:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTEST_ADDOPTS", "TEST_DATABASE_URL", "TEST_REDIS_URL"}
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_security.py"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout.splitlines()[-1]


TEST_AND_LINT_TOOLS = {
    "pytest",
    "pytest-cov",
    "pytest-alembic",
    "pytest-xdist",
    "schemathesis",
    "hypothesis",
    "playwright",
    "aiosmtpd",
    "trustme",
    "coverage",
    "httpx2",
    "ruff",
    "mypy",
}


def pinned(path: str) -> dict[str, str]:
    lines = (REPO_ROOT / path).read_text().splitlines()
    pins = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name.split("[")[0].lower(): version for name, version in pins}


def test_the_app_installs_no_test_tool_and_the_dev_file_adds_them() -> None:
    app, dev = pinned("requirements.txt"), pinned("requirements-dev.txt")
    assert not TEST_AND_LINT_TOOLS & set(app)  # Railway installs requirements.txt alone
    assert set(dev) >= TEST_AND_LINT_TOOLS
    assert not set(app) & set(dev)  # each pin in one place
    assert (REPO_ROOT / "requirements-dev.txt").read_text().count("-r requirements.txt\n") == 1
    assert "psycopg2-binary" in app and "psycopg" not in app
