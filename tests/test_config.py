"""Settings: parsing, normalising, and refusing to start production without a real secret."""

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from blog.config import DEVELOPMENT_SECRET_FILE, Settings, development_secret, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
STRONG_SECRET = secrets.token_urlsafe(32)


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/blog", "postgresql+psycopg2://u:p@db:5432/blog"),
        ("postgresql://u:p@db:5432/blog", "postgresql+psycopg2://u:p@db:5432/blog"),
        ("postgresql+psycopg2://u:p@db/blog", "postgresql+psycopg2://u:p@db/blog"),
        ("sqlite:///./blog.db", "sqlite:///./blog.db"),
    ],
)
def test_database_urls_are_normalised_for_sqlalchemy(given: str, expected: str) -> None:
    assert make_settings(database_url=given).database_url == expected


def test_an_empty_variable_counts_as_not_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # development keeps its secret in the folder it runs in
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("JWT_SECRET", "")  # as in a copied .env.example
    monkeypatch.setenv("DATABASE_URL", "")
    settings = Settings(_env_file=None)
    assert len(settings.jwt_secret_value.encode()) >= 32
    assert settings.database_url == "sqlite:///./blog.db"


def test_production_with_an_empty_secret_still_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "")
    with pytest.raises(SystemExit, match="JWT_SECRET must be set"):
        load_settings()


def test_development_without_a_secret_makes_one_for_the_folder_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    first = make_settings(environment="development", jwt_secret=None)
    second = make_settings(environment="development", jwt_secret=None)  # a restart, a 2nd worker
    assert not (tmp_path / DEVELOPMENT_SECRET_FILE).exists()  # not until a token needs it
    assert len(first.jwt_secret_value.encode()) >= 32
    assert first.jwt_secret_value == second.jwt_secret_value
    kept = tmp_path / DEVELOPMENT_SECRET_FILE
    assert kept.read_text() == first.jwt_secret_value
    assert kept.stat().st_mode & 0o777 == 0o600  # readable by this user only
    assert f"/{DEVELOPMENT_SECRET_FILE}\n" in (REPO_ROOT / ".gitignore").read_text()
    assert first.signs_with_development_secret  # the app warns when it starts
    given = make_settings(environment="development", jwt_secret="a-secret-someone-set")
    assert not given.signs_with_development_secret


def test_workers_starting_together_share_one_development_secret(tmp_path: Path) -> None:
    path = tmp_path / DEVELOPMENT_SECRET_FILE
    with ThreadPoolExecutor(8) as pool:
        secrets_read = set(pool.map(lambda _: development_secret(path), range(8)))
    assert len(secrets_read) == 1
    assert list(tmp_path.iterdir()) == [path]  # no candidate left behind


def test_the_test_environment_gets_a_secret_per_process_and_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    first = make_settings(environment="test", jwt_secret=None)
    second = make_settings(environment="test", jwt_secret=None)
    assert first.jwt_secret_value != second.jwt_secret_value
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("secret", [None, "", "change-me", "x" * 31, "é" * 15])
def test_production_refuses_a_missing_or_short_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET must be set to at least 32 bytes"):
        make_settings(environment="production", jwt_secret=secret)


def test_production_accepts_a_32_byte_secret() -> None:
    assert make_settings(environment="production", jwt_secret=STRONG_SECRET).jwt_secret_value


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DATABASE_URL", "not a url"), ("ENVIRONMENT", "staging")],
)
def test_an_invalid_setting_exits_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        load_settings()
    message = str(exit_info.value.code)
    assert message.startswith(f"Invalid configuration: {variable}:")
    assert "\n" not in message


def test_the_refusal_does_not_echo_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "tooshort-but-secret")
    with pytest.raises(SystemExit) as exit_info:
        load_settings()
    assert "tooshort-but-secret" not in str(exit_info.value.code)


def test_an_unparsable_database_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError, match="is not a database URL") as error:
        make_settings(database_url="nonsense with password=hunter2")
    assert "hunter2" not in str(error.value.errors()[0]["msg"])


def test_every_setting_is_documented_in_env_example_and_on_the_settings_page() -> None:
    env_example = (REPO_ROOT / ".env.example").read_text()
    page = (REPO_ROOT / "docs" / "settings.md").read_text()
    for name in Settings.model_fields:
        variable = name.upper()
        assert f"\n{variable}=" in env_example, f"{variable} is missing from .env.example"
        assert f"`{variable}`" in page, f"{variable} is missing from docs/settings.md"
