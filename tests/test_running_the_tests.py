"""What a student does after each step: run one test file on its own, and see it pass. The
coverage gate is CI's, over the whole suite (`.ci/run`), so it cannot fail a single file."""

import os
import subprocess
import sys

from tests.servers import REPO_ROOT


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
