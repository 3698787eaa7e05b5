"""Exercise (lesson 3, one error shape): a new error code.

Copy this file into your `tests/`, then make it pass: `GET /teapot` answers 418 with the code
`im_a_teapot`, in the same `{"detail": ..., "code": ...}` shape as every other error. One way:
a `DomainError` subclass in `blog/errors.py`, and a route that raises it.
"""

from fastapi.testclient import TestClient

from tests.helpers import assert_error


def test_the_teapot_is_a_418_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/teapot"), 418, "im_a_teapot")


def test_the_teapot_is_in_the_openapi_document(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/teapot"]["get"]
    assert "418" in operation["responses"]
