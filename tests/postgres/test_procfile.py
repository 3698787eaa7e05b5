"""Railway runs the Procfile's `web` command with PORT set; this test does the same on a fresh
PostgreSQL database and checks what a deployment needs: migrations applied, /health 200, the API
working, and JSON log lines (production) that name the environment but no credentials."""

import json
import secrets
from pathlib import Path

from sqlalchemy import create_engine, inspect, make_url, text

from tests.helpers import PASSWORD
from tests.postgres.conftest import server_environment
from tests.servers import (
    REPO_ROOT,
    free_port,
    request,
    response_headers,
    running,
    wait_until_healthy,
)


def web_command() -> str:
    [line] = [
        line
        for line in (REPO_ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    ]
    return line.removeprefix("web:").strip()


def head_revision() -> str:
    [latest] = sorted((REPO_ROOT / "alembic" / "versions").glob("*.py"))[-1:]
    return Path(latest).name.split("-")[1].split("_")[0]


def test_the_procfile_web_command_migrates_and_serves(empty_database_url: str) -> None:
    port = free_port()
    # Railway hands out postgres:// URLs with a password; the app must accept and hide it.
    as_railway_gives_it = make_url(empty_database_url).set(drivername="postgres")
    railway_url = as_railway_gives_it.render_as_string(hide_password=False)
    environment = server_environment(
        railway_url,
        PORT=str(port),
        ENVIRONMENT="production",
        JWT_SECRET=secrets.token_urlsafe(32),
        BCRYPT_ROUNDS="4",
    )
    base_url = f"http://127.0.0.1:{port}"
    with running(["bash", "-c", web_command()], environment) as server:
        wait_until_healthy(base_url, server, seconds=60)
        body = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
        assert request(f"{base_url}/auth/register", "POST", body)[0] == 201
        assert request(f"{base_url}/health")[1] == {"ok": True, "database": "ok"}
        assert "server" not in response_headers(f"{base_url}/health")

    engine = create_engine(empty_database_url)
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == head_revision()
    assert {"users", "posts", "comments"} <= set(inspect(engine).get_table_names())
    engine.dispose()

    output: str = server.output  # type: ignore[attr-defined]
    log = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    database = make_url(empty_database_url)
    [start_up] = [line for line in log if line["message"].startswith("blog starting")]
    assert start_up["message"] == (
        "blog starting: environment=production database="
        f"postgresql://{database.host}:{database.port}/{database.database} notifications=in-process"
    )
    migration_lines = [line for line in log if line["logger"].startswith("alembic")]
    assert any(line["message"].startswith("Running upgrade") for line in migration_lines)
    register_line = next(line for line in log if line.get("path") == "/auth/register")
    assert register_line["method"] == "POST"
    assert register_line["status"] == 201
    assert register_line["duration_ms"] > 0
    assert len(register_line["request_id"]) == 32
