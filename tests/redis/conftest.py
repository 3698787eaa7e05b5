"""Tests that need a Redis server: collected only with TEST_REDIS_URL (see tests/collection.py).

Most of them start two server processes that share one SQLite file and, unless a test asks for
none, one Redis.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TEST_REDIS_URL
from tests.servers import REPO_ROOT, free_port, migrate, running, wait_until_healthy

if TEST_REDIS_URL is None:  # named on the command line without the setting
    raise pytest.UsageError("tests/redis/ needs TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0")


def migrated_sqlite_file(folder: Path) -> str:
    url = f"sqlite:///{folder / 'shared.db'}"
    migrate(url)
    return url


def server_environment(folder: Path, redis_url: str | None) -> dict[str, str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": migrated_sqlite_file(folder),
        "ENVIRONMENT": "test",
        "BCRYPT_ROUNDS": "4",
        "JWT_SECRET": "a-secret-both-processes-share-0123456789",
    }
    environment.pop("REDIS_URL", None)
    if redis_url:
        environment["REDIS_URL"] = redis_url
    return environment


@pytest.fixture
def two_servers(tmp_path: Path, request_redis: str | None) -> Iterator[tuple[str, str]]:
    """Two servers sharing one SQLite file (and Redis, unless `request_redis` is None)."""
    environment = server_environment(tmp_path, request_redis)
    ports = [free_port(), free_port()]
    commands = [[sys.executable, "-m", "blog", "--port", str(port)] for port in ports]
    with running(commands[0], environment) as first, running(commands[1], environment) as second:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        wait_until_healthy(urls[0], first)
        wait_until_healthy(urls[1], second)
        yield urls[0], urls[1]


@pytest.fixture
def request_redis() -> str | None:
    return TEST_REDIS_URL
