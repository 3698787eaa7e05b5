"""`/metrics`: hidden without METRICS_TOKEN, closed without it as the bearer, and counting
requests by route template, refusals, hash-slot waits, pool connections and open sockets."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from blog import metrics
from blog.config import Settings, settings
from blog.database import make_engine
from tests.helpers import Account, assert_error, create_post
from tests.test_capacity import take_every_hash_slot

TOKEN = "a-metrics-token-for-the-tests"
REPLICA = {"replica": settings.railway_replica_id}


@pytest.fixture
def scraper(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The client, with METRICS_TOKEN set and sent as its bearer token on /metrics."""
    monkeypatch.setattr(settings, "metrics_token", SecretStr(TOKEN))
    yield client


def scrape(client: TestClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {**labels, **REPLICA}) or 0.0


def test_without_the_setting_metrics_is_an_unknown_path(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "metrics_token", None)
    unknown = client.get("/nope").json()
    assert_error(
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}), 404, "not_found"
    )
    assert client.get("/metrics").json() == unknown


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer "])
def test_without_the_token_metrics_is_a_401(scraper: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = scraper.get("/metrics", headers=headers)
    assert_error(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_requests_are_counted_by_route_template_never_by_path(
    scraper: TestClient, user: Account
) -> None:
    post = create_post(scraper, user)
    labels = {"method": "GET", "route": "/posts/{post_id}", "status": "200"}
    before = sample("blog_http_requests_total", **labels)
    assert scraper.get(f"/posts/{post['id']}").status_code == 200
    assert sample("blog_http_requests_total", **labels) == before + 1
    assert (
        sample("blog_http_request_duration_seconds_count", method="GET", route="/posts/{post_id}")
        >= 1
    )
    text = scrape(scraper)
    assert f'route="/posts/{post["id"]}"' not in text
    assert 'route="/posts/{post_id}"' in text


def test_unknown_paths_and_methods_share_one_label_each(scraper: TestClient) -> None:
    before = sample("blog_http_requests_total", method="GET", route="unmatched", status="404")
    for path in ("/wp-admin", "/.env", "/a/b/c"):
        assert scraper.get(path).status_code == 404
    assert (
        sample("blog_http_requests_total", method="GET", route="unmatched", status="404")
        == before + 3
    )
    scraper.request("BREW", "/posts")
    assert 'method="other"' in scrape(scraper)
    assert "wp-admin" not in scrape(scraper)


def test_rate_limit_refusals_are_counted(scraper: TestClient, user: Account) -> None:
    before = sample("blog_refusals_total", code="rate_limited")
    form = {"username": user.username, "password": "not the password"}
    statuses = [
        scraper.post("/auth/login", data=form).status_code
        for _ in range(settings.login_max_failures + 1)
    ]
    assert statuses[-1] == 429
    assert sample("blog_refusals_total", code="rate_limited") == before + 1


def test_busy_refusals_and_hash_slot_waits_are_counted(
    scraper: TestClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = sample("blog_password_hash_wait_seconds_count")
    form = {"username": user.username, "password": user.password}
    assert scraper.post("/auth/login", data=form).status_code == 200
    assert sample("blog_password_hash_wait_seconds_count") == waits + 1
    busy = sample("blog_refusals_total", code="server_busy")
    take_every_hash_slot(monkeypatch)
    assert_error(scraper.post("/auth/login", data=form), 503, "server_busy")
    assert sample("blog_refusals_total", code="server_busy") == busy + 1


def test_open_sockets_and_pool_connections_are_read_when_scraped(
    scraper: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    monkeypatch.setattr(metrics, "engine", engine)
    with scraper.websocket_connect("/ws/notify") as socket:
        socket.send_text("hi")
        assert socket.receive_text() == "Echo: hi"
        assert "blog_open_websockets{" in scrape(scraper)
        assert sample("blog_open_websockets") == 1
    with engine.connect():
        assert sample("blog_database_connections_in_use") == 1
    assert sample("blog_database_connections_in_use") == 0
    engine.dispose()


def test_the_replica_comes_from_railway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAILWAY_REPLICA_ID", "b5f3c0de")
    assert Settings(_env_file=None).railway_replica_id == "b5f3c0de"
    assert Settings(_env_file=None, railway_replica_id="local").railway_replica_id == "local"
