"""One error shape for everything: unknown paths, wrong methods, bad input, outages and bugs."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.helpers import TEST_DATABASE_URL, assert_error


def test_an_unknown_path_is_a_404_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/no/such/path"), 404, "not_found")


def test_a_wrong_method_is_a_405_that_says_which_are_allowed(client: TestClient) -> None:
    response = client.put("/health")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"


def test_the_suite_runs_on_the_database_it_was_asked_to(engine: Engine) -> None:
    # CI runs the suite twice; this makes sure the second run really is on PostgreSQL.
    expected = "postgresql" if TEST_DATABASE_URL else "sqlite"
    assert engine.dialect.name == expected
