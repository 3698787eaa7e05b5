"""Exercise (lesson 3, one error shape): a new error code.

Copy this file into your `tests/`, then make it pass: `GET /teapot` answers 418 with the code
`im_a_teapot`, in the same `{"detail": ..., "code": ...}` shape as every other error, and the
OpenAPI document shows an example of it. One way: a `DomainError` subclass in `blog/errors.py`,
its example in `ERROR_EXAMPLES`, and a route that raises it.
"""

from fastapi.testclient import TestClient

from tests.helpers import assert_error


def test_the_teapot_is_a_418_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/teapot"), 418, "im_a_teapot")


def test_the_teapot_is_in_the_openapi_document(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/teapot"]["get"]
    examples = operation["responses"]["418"]["content"]["application/json"]["examples"]
    assert examples["im_a_teapot"]["value"]["code"] == "im_a_teapot"
