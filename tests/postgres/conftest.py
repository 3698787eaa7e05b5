"""Fixtures for tests that need a real PostgreSQL server (collected only with TEST_DATABASE_URL).

Unlike the rest of the suite, these tests cannot hide inside a rolled-back transaction: a separate
server process, or a database that disappears, must see committed data. So each test gets a brand
new database, migrated with Alembic like production, and dropped afterwards.
"""

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TEST_DATABASE_URL, fresh_postgres_database
from tests.servers import free_port, migrate, running, wait_until_healthy

if TEST_DATABASE_URL is None:  # named on the command line without the setting
    raise pytest.UsageError(
        "tests/postgres/ needs TEST_DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/test"
    )


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    assert TEST_DATABASE_URL is not None  # for the type checker: checked above
    with fresh_postgres_database(TEST_DATABASE_URL) as url:
        yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A new PostgreSQL database with every migration applied."""
    migrate(empty_database_url)
    return empty_database_url


@pytest.fixture
def base_url(database_url: str) -> Iterator[str]:
    """A uvicorn server on a new migrated database (the registration limit out of the way:
    these tests sign up more accounts from one address than a person would)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "blog.main:app", "--port", str(port)]
    environment = server_environment(database_url, REGISTER_MAX_PER_CLIENT="1000")
    with running(command, environment) as server:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server)
        yield url


def server_environment(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment for a server process: this database, the venv's tools on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "JWT_SECRET": secrets.token_urlsafe(32),
        "BCRYPT_ROUNDS": "4",
        **overrides,
    }
