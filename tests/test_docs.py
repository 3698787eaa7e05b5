"""The interactive docs work offline, and the OpenAPI document describes auth and errors."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from blog import seed
from blog.errors import CODE_FOR_HTTP_STATUS, DomainError, ErrorResponse
from tests.servers import REPO_ROOT


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_this_app(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets, "the page should load its script"
    for asset in assets:
        assert asset.startswith("/"), f"{asset} would need the internet"
        assert client.get(asset).status_code == 200
    assert "https://" not in response.text and "http://" not in response.text


def test_swagger_ui_is_version_5(client: TestClient) -> None:
    bundle = client.get("/static-offline-docs/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', bundle)


def test_the_oauth2_redirect_page_for_the_authorize_dialog_exists(client: TestClient) -> None:
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_authorize_uses_the_password_flow_against_the_login_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    [scheme] = schema["components"]["securitySchemes"].values()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/login"


def test_operation_ids_are_the_function_names(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/users/me"]["get"]["operationId"] == "read_me"
    assert paths["/auth/register"]["post"]["operationId"] == "register"
    assert paths["/health"]["get"]["operationId"] == "health"  # not `health-health`


def test_list_schemas_are_named_as_clients_name_them(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"PostPage", "CommentPage", "UserPage"} <= set(schemas)
    assert not [name for name in schemas if "_" in name]  # no `Page_PostPublic_`


def test_every_field_of_every_answer_is_required(client: TestClient) -> None:
    """Answers always carry every field, so generated clients must not make any optional."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    answered = {
        content["schema"]["$ref"].rsplit("/", 1)[-1]
        for path in document["paths"].values()
        for operation in path.values()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for content in response.get("content", {}).values()
        if "$ref" in content.get("schema", {})
    }
    assert {"Token", "UserPublic", "UserPrivate", "PasswordResetRequested", "PostPage"} <= answered
    for name in answered | {"UserPublic", "PostPublic", "CommentPublic"}:
        schema = schemas[name]
        assert set(schema.get("required", [])) == set(schema["properties"]), name


def test_no_password_field_is_format_password(client: TestClient) -> None:
    """One rule for every password: none carries `format: password` (docs/decisions.md)."""
    assert '"format":"password"' not in client.get("/openapi.json").text.replace(" ", "")


def test_the_document_names_its_license_and_its_server(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["license"] == {"name": "MIT", "identifier": "MIT"}
    assert (REPO_ROOT / "LICENSE").read_text().startswith("MIT License")
    assert document["servers"] == [{"url": "/", "description": "This server"}]


def test_errors_are_documented_with_the_error_model(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    register = schema["paths"]["/auth/register"]["post"]["responses"]
    for status in ("409", "422"):
        reference = register[status]["content"]["application/json"]["schema"]["$ref"]
        assert reference.endswith("/ErrorResponse")
    assert "HTTPValidationError" not in schema["components"]["schemas"]


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()  # type: ignore[no-any-return]


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in openapi["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_tag_is_described(openapi: dict[str, Any]) -> None:
    tags = {tag["name"]: tag.get("description") for tag in openapi["tags"]}
    assert list(tags) == ["auth", "users", "posts", "comments", "health"]
    assert all(tags.values())
    used = {operation["tags"][0] for _, _, operation in operations(openapi)}
    assert used == set(tags)


def test_every_operation_has_a_summary_a_description_and_a_stable_id(
    openapi: dict[str, Any],
) -> None:
    ids = set()
    for method, path, operation in operations(openapi):
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
        assert operation["operationId"].isidentifier()
        ids.add(operation["operationId"])
    assert len(ids) == len(operations(openapi)) == 22


def test_every_request_body_has_an_example(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for method, path, operation in operations(openapi):
        if "requestBody" not in operation:
            continue
        [content] = operation["requestBody"]["content"].values()
        body_schema = schemas[content["schema"]["$ref"].rsplit("/", 1)[-1]]
        has_example = "examples" in body_schema or all(
            "examples" in field for field in body_schema["properties"].values()
        )
        assert has_example, (method, path)


def test_every_error_a_route_can_return_is_documented(openapi: dict[str, Any]) -> None:
    for method, path, operation in operations(openapi):
        documented = set(operation["responses"])
        if path == "/health":
            assert documented == {"200", "503"}
            continue
        expected = {"503"}  # every other route reads the database
        if operation.get("security"):
            expected.add("401")
        if method in ("PATCH", "DELETE") and "{" in path:
            expected.add("403")
        if "{" in path:
            expected |= {"404", "422"}
        if "parameters" in operation or "requestBody" in operation:
            expected.add("422")
        if operation.get("requestBody", {}).get("content", {}).get("application/json"):
            expected.add("400")  # a body that is not UTF-8
        assert expected <= documented, (method, path, expected - documented)
        for status in documented - {"200", "201", "202", "204"}:
            [content] = operation["responses"][status]["content"].values()
            assert content["schema"]["$ref"].endswith("/ErrorResponse"), (method, path, status)


def test_only_signed_in_operations_ask_for_a_token(openapi: dict[str, Any]) -> None:
    secured = {
        (method, path)
        for method, path, operation in operations(openapi)
        if operation.get("security")
    }
    assert secured == {
        ("POST", "/auth/logout"),
        ("GET", "/users/me"),
        ("PATCH", "/users/me"),
        ("DELETE", "/users/me"),
        ("POST", "/users/me/password"),
        ("POST", "/posts"),
        ("PATCH", "/posts/{post_id}"),
        ("DELETE", "/posts/{post_id}"),
        ("POST", "/posts/{post_id}/comments"),
        ("PATCH", "/comments/{comment_id}"),
        ("DELETE", "/comments/{comment_id}"),
    }


def test_docs_pages_may_only_load_from_this_app(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        policy = client.get(page).headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
    assert "Content-Security-Policy" not in client.get("/health").headers


def test_the_authorize_dialog_says_to_leave_the_client_fields_empty(
    openapi: dict[str, Any],
) -> None:
    """Swagger UI always shows client_id and client_secret for the password flow; the dialog
    shows the scheme's description, which says this API does not use them."""
    [scheme] = openapi["components"]["securitySchemes"].values()
    assert "Leave client_id and client_secret empty" in scheme["description"]


def real_codes() -> dict[int, set[str]]:
    """Every (status, code) the app answers with: its error classes, and the framework's."""
    codes: dict[int, set[str]] = {422: {"validation_error"}}
    classes = [DomainError]
    while classes:
        error_class = classes.pop()
        classes.extend(error_class.__subclasses__())
        codes.setdefault(error_class.status_code, set()).add(error_class.code)
    for status, code in CODE_FOR_HTTP_STATUS.items():
        codes.setdefault(status, set()).add(code)
    return codes


def test_every_error_example_shows_a_real_code_of_its_status(openapi: dict[str, Any]) -> None:
    codes = real_codes()
    shown: set[str] = set()
    for method, path, operation in operations(openapi):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            if not content.get("schema", {}).get("$ref", "").endswith("/ErrorResponse"):
                continue  # a success, or /health's 503, which has a shape of its own
            examples = content["examples"]
            assert examples, (method, path, status)
            for name, example in examples.items():
                body = ErrorResponse.model_validate(example["value"])
                assert name == body.code in codes[int(status)], (method, path, status)
                assert body.detail != "string"
                shown.add(body.code)
    # Every code of the app's own errors is shown somewhere (the framework's 405 and 415 are
    # answers to requests no operation describes).
    assert shown == set().union(*codes.values()) - {"method_not_allowed", "unsupported_media_type"}


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "/auth/register", {"bad_request"}),
        ("post", "/auth/login", {"bad_request", "invalid_credentials"}),
        ("patch", "/users/me", {"bad_request", "wrong_password"}),
        ("post", "/users/me/password", {"bad_request", "wrong_password"}),
        ("post", "/auth/password-reset/confirm", {"bad_request", "invalid_reset_token"}),
    ],
)
def test_an_operation_shows_its_own_400_codes_not_every_route_s(
    openapi: dict[str, Any], method: str, path: str, codes: set[str]
) -> None:
    response = openapi["paths"][path][method]["responses"]["400"]
    assert set(response["content"]["application/json"]["examples"]) == codes


def test_the_register_example_answers_201_after_the_seed(
    client: TestClient, session: Session, openapi: dict[str, Any]
) -> None:
    seed.seed(session)
    [example] = openapi["components"]["schemas"]["UserRegister"]["examples"]
    assert client.post("/auth/register", json=example).status_code == 201


def test_public_operations_say_they_need_no_token(openapi: dict[str, Any]) -> None:
    for method, path, operation in operations(openapi):
        signed_in = operation["security"] == [{"OAuth2PasswordBearer": []}]
        assert signed_in or operation["security"] == [], (method, path)
    public = {(method, path) for method, path, op in operations(openapi) if op["security"] == []}
    assert {("GET", "/posts"), ("POST", "/auth/login"), ("GET", "/health")} <= public
    assert ("POST", "/posts") not in public


def test_every_answer_names_its_request_id_and_refusals_name_retry_after(
    openapi: dict[str, Any],
) -> None:
    for method, path, operation in operations(openapi):
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in response["headers"], (method, path, status)
            assert ("Retry-After" in response["headers"]) == (status in ("429", "503"))
