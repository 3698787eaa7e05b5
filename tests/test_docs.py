"""The interactive docs work offline, and the OpenAPI document describes auth and errors."""

import re

import pytest
from fastapi.testclient import TestClient

from blog.config import settings
from blog.main import create_app


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


def test_operation_ids_are_tag_and_function_name(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/users/me"]["get"]["operationId"] == "users-read_me"
    assert paths["/auth/register"]["post"]["operationId"] == "auth-register"


def test_errors_are_documented_with_the_error_model(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    register = schema["paths"]["/auth/register"]["post"]["responses"]
    for status in ("409", "422"):
        reference = register[status]["content"]["application/json"]["schema"]["$ref"]
        assert reference.endswith("/ErrorResponse")
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_cors_origins_from_settings_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "cors_origins", ["https://frontend.example"])
    with TestClient(create_app()) as cors_client:
        response = cors_client.options(
            "/users",
            headers={
                "Origin": "https://frontend.example",
                "Access-Control-Request-Method": "GET",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://frontend.example"
