"""Tests that need a Redis server: collected only with TEST_REDIS_URL (see tests/conftest.py)."""

import pytest

from tests.conftest import TEST_REDIS_URL

if TEST_REDIS_URL is None:  # named on the command line without the setting
    raise pytest.UsageError("tests/redis/ needs TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0")
