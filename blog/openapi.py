"""The OpenAPI document: what Swagger UI, client generators and linters read, finished in one place.

Lesson: FastAPI writes the document from the routes and their models. What it cannot know is added
once, as the app builds the document (FastAPI's "extending OpenAPI"), instead of on every route:
that an operation which asks for no token asks for none (`security: []`, which a linter and a
generated client read as "public"), and the headers answers carry: `X-Request-ID` on every one,
`Retry-After` on a 429 or a 503, `Link` on a page of a list; and the examples of each error
answer, with their real codes: the codes a route names (`error_responses` in `blog/errors.py`),
each shown with its `ERROR_EXAMPLES` entry.
"""

from typing import Any

from fastapi import FastAPI

from blog.errors import COMMON_CODES, ERROR_EXAMPLES

REQUEST_ID = {  # step 13
    "description": "The request's id, as its log line shows it",  # step 13
    "schema": {"type": "string"},  # step 13
}  # step 13
LINK = {  # step 20
    "description": 'The next page, as `<URL>; rel="next"`, when there is one',  # step 20
    "schema": {"type": "string"},  # step 20
}  # step 20
RETRY_AFTER = {  # step 15
    "description": "Seconds to wait before trying again",  # step 15
    "schema": {"type": "string", "pattern": "^[0-9]+$"},  # step 15
}  # step 15


def with_examples(responses: dict[str, dict[str, Any]]) -> None:
    """Each error answer shows an example of each code its route named (`error_responses`)."""
    for status_code, response in responses.items():
        common = COMMON_CODES.get(int(status_code), []) if response.pop("x-common-codes", 0) else []
        codes = common + response.pop("x-codes", [])
        if codes:
            examples = {
                code: {"value": {"detail": ERROR_EXAMPLES[code], "code": code}} for code in codes
            }
            response["content"]["application/json"]["examples"] = examples


def with_headers(responses: dict[str, dict[str, Any]]) -> None:  # step 13
    """Every answer names `X-Request-ID`; a 429 or 503 `Retry-After`; a page `Link`."""  # step 13
    for status_code, response in responses.items():  # step 13
        headers = response.setdefault("headers", {})  # step 13
        headers["X-Request-ID"] = REQUEST_ID  # step 13
        if status_code in ("429", "503"):  # step 15
            headers["Retry-After"] = RETRY_AFTER  # step 15
        answer = response.get("content", {}).get("application/json", {})  # step 20
        if answer.get("schema", {}).get("$ref", "").endswith("Page"):  # step 20
            headers["Link"] = LINK  # step 20


def finish_the_document(app: FastAPI) -> None:
    """Finish the document once, as the app first builds it; FastAPI keeps what this returns."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for path in build()["paths"].values():
                for operation in path.values():
                    with_examples(operation["responses"])
                    with_headers(operation["responses"])  # step 13
                    operation.setdefault("security", [])  # no token asked: a public operation
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
