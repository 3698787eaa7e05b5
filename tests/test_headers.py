"""Security headers on every response, no caching of tokens or private data, no open redirect."""

import pytest
from fastapi.testclient import TestClient

from blog.config import Settings, settings
from blog.main import create_app
from tests.helpers import Account, assert_error

EVERY_RESPONSE = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


def has_security_headers(response) -> bool:  # type: ignore[no-untyped-def]
    return all(response.headers.get(name) == value for name, value in EVERY_RESPONSE.items())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/posts", 200),
        ("GET", "/docs", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/posts/999", 404),
        ("GET", "/no/such/path", 404),
        ("PUT", "/posts", 405),
        ("GET", "/posts?limit=0", 422),
        ("GET", "/users/me", 401),
        ("POST", "/auth/login", 422),
    ],
)
def test_every_response_forbids_sniffing_and_framing(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert has_security_headers(response)


def test_a_500_carries_them_too(broken_client: TestClient) -> None:
    response = broken_client.get("/users")
    assert_error(response, 500, "internal_error")
    assert has_security_headers(response)


def test_a_413_carries_them_too(client: TestClient) -> None:
    response = client.post("/posts", content=b"x" * (settings.max_body_bytes + 1))
    assert_error(response, 413, "payload_too_large")
    assert has_security_headers(response)


def test_tokens_and_private_accounts_are_never_cached(client: TestClient, user: Account) -> None:
    form = {"username": user.username, "password": user.password}
    answers = [
        client.post("/auth/login", data=form),
        client.post("/auth/register", json={"email": "x@example.com", "username": "xx"}),  # 422
        client.get("/users/me", headers=user.headers),
        client.patch("/users/me", headers=user.headers, json={"bio": "hi"}),
        client.get("/users/me"),  # 401
    ]
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store", response.request.url


def test_public_reads_may_be_cached(client: TestClient, user: Account) -> None:
    for path in ("/posts", f"/users/{user.id}", "/users", "/health"):
        assert "Cache-Control" not in client.get(path).headers, path


def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_callers_host(
    client: TestClient,
) -> None:
    response = client.get("/posts/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert_error(response, 404, "not_found")
    assert "location" not in response.headers


def test_cors_origins_are_comma_separated() -> None:
    settings = Settings(_env_file=None, cors_origins="https://a.example, https://b.example,")
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_cors_origins_may_be_a_list() -> None:
    settings = Settings(_env_file=None, cors_origins=["https://a.example"])
    assert settings.cors_origins == ["https://a.example"]


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
