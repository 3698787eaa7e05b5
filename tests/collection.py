"""Which tests run where: a pytest plugin (`-p tests.collection` in pyproject.toml).

Lesson: a suite grows tests that need more than Python: a PostgreSQL server (`tests/postgres/`,
with TEST_DATABASE_URL), Redis (`tests/redis/`, with TEST_REDIS_URL), Debian's Chromium
(`tests/browser/`). Without what they need they are not collected, except that CI, which installs
Chromium, fails rather than test less. With `-m "not slow"` the modules whose every test is slow
are not even imported. `tests/exercises/` is never collected here: its tests fail until a
student solves them (`tests/test_lessons.py` runs each on its lesson's checkpoint). Two rules
keep every test honest: a log line that cannot be written fails the test that wrote it, and the
root logger's handlers are put back after each test.
"""

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Read here, not from `tests.helpers`: a plugin loads before conftest.py sets the app's settings.
NEEDS = {"postgres": os.environ.get("TEST_DATABASE_URL"), "redis": os.environ.get("TEST_REDIS_URL")}
# schemathesis builds its cases while its module is collected, before deselection could drop them.
ONLY_SLOW_TESTS = {"test_api_contract.py", "test_docs_in_chromium.py"}
CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError("CI must run the browser tests, but /usr/bin/chromium is missing")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in NEEDS and not NEEDS[collection_path.name]:
        return True
    if collection_path.name == "exercises":  # they fail until a student solves them
        return True
    if collection_path.name == "browser" and not CHROMIUM.exists():
        return True
    if config.getoption("markexpr") == "not slow" and collection_path.name in ONLY_SLOW_TESTS:
        return True
    return None  # pytest decides as usual


def raise_logging_errors(handler: logging.Handler, record: logging.LogRecord) -> None:
    """Like a warning, a log line that cannot be written fails the test (logging would print
    `--- Logging error ---` and go on)."""
    raise  # the error being handled: logging calls this from inside its `except`


logging.Handler.handleError = raise_logging_errors  # type: ignore[method-assign, assignment]


@pytest.fixture(autouse=True)
def log_handlers_outlive_the_test() -> Iterator[None]:
    """A test that runs `python -m blog` makes the app's log handler again, on that test's
    captured `sys.stdout`, closed when it ends: later log lines would fail to write."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers, root.level = handlers, level
