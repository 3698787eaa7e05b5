"""Debian's Chromium, as the browser tests and `python -m tests.screenshots` both start it.

Lesson: one place says how the browser is launched and which app it looks at, so the pictures on
the docs site show exactly what the browser tests check: a server started as a student starts it
(`python -m blog seed`, then `python -m blog`) on a fresh SQLite file.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright

from tests.servers import REPO_ROOT, free_port, running, wait_until_healthy

CHROMIUM = "/usr/bin/chromium"
# Headless as root, and without the background traffic Chromium sends to Google by default.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-dev-shm-usage",  # a container's /dev/shm is too small for Chromium's shared memory
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def seeded_server(folder: Path) -> Iterator[str]:
    """A seeded app in `folder`, as a student starts it; yields its base URL."""
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        "PYTHONPATH": str(REPO_ROOT),
        "ENVIRONMENT": "development",
        "BCRYPT_ROUNDS": "4",
    }
    with running([sys.executable, "-m", "blog", "seed"], environment, cwd=folder) as seeding:
        assert seeding.wait(timeout=60) == 0
    port = free_port()
    command = [sys.executable, "-m", "blog", "--port", str(port)]
    with running(command, environment, cwd=folder) as server:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server)
        yield url
