"""A deploy as Railway runs it (`railway.json`): the pre-deploy command once, to its end, then the
start command with PORT set. On a fresh PostgreSQL database this checks what a deployment needs:
migrations applied before the server starts, /health 200, the API working, and JSON log lines
(production) that name the environment but no credentials. A pre-deploy command that fails
exits non-zero, which is what stops Railway's deploy, and leaves the schema as it was."""

import json
import secrets
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect, make_url, text

from tests.helpers import PASSWORD
from tests.postgres.conftest import server_environment
from tests.servers import (
    REPO_ROOT,
    free_port,
    railway_deploy,
    request,
    response_headers,
    running,
    wait_until_healthy,
)


def pre_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Railway's pre-deploy step: each command in a shell, in order, stopping at a failure."""
    command = " && ".join(railway_deploy()["preDeployCommand"])
    return subprocess.run(
        ["bash", "-c", command], env=environment, cwd=REPO_ROOT, capture_output=True, text=True
    )


def head_revision() -> str:
    [latest] = sorted((REPO_ROOT / "alembic" / "versions").glob("*.py"))[-1:]
    return Path(latest).name.split("-")[1].split("_")[0]


def test_the_pre_deploy_command_migrates_then_the_start_command_serves(
    empty_database_url: str,
) -> None:
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
    migrated = pre_deploy(environment)
    assert migrated.returncode == 0, migrated.stderr
    base_url = f"http://127.0.0.1:{port}"
    with running(["bash", "-c", railway_deploy()["startCommand"]], environment) as server:
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
    assert not [line for line in log if line["logger"].startswith("alembic")]  # migrated before
    assert "Running upgrade" in migrated.stdout + migrated.stderr
    register_line = next(line for line in log if line.get("path") == "/auth/register")
    assert register_line["method"] == "POST"
    assert register_line["status"] == 201
    assert register_line["duration_ms"] > 0
    assert len(register_line["request_id"]) == 32


def test_a_failing_migration_exits_non_zero_and_leaves_the_schema_as_it_was(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:  # a table in the first migration's way
        connection.execute(text("CREATE TABLE users (id integer PRIMARY KEY)"))
    failed = pre_deploy(server_environment(empty_database_url))
    assert failed.returncode != 0
    assert "DuplicateTable" in failed.stderr
    assert set(inspect(engine).get_table_names()) == {"users"}  # no alembic_version, no posts
    engine.dispose()
