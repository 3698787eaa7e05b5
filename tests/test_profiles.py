"""The users table and public profiles: pages, ids in paths, and what a 500 hides."""

import logging

import pytest
from fastapi.testclient import TestClient

from tests.helpers import assert_error


def test_an_unexpected_error_is_a_500_without_internals(
    broken_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="blog.errors"):
        response = broken_client.get("/users")
    assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "blog.errors"]
    assert "GET /users" in record.getMessage()
    assert record.exc_info is not None  # the traceback goes to the log
    assert isinstance(record.exc_info[1], RuntimeError)
