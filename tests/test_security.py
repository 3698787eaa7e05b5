"""Password hashing, tokens and stored timestamps, below the HTTP layer."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from blog.config import Settings, load_settings
from blog.database import UTCDateTime, utc_now
from blog.security import (
    hash_password,
)
from blog.users.models import User


def test_hashing_a_password_bcrypt_would_truncate_is_refused() -> None:
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password("a" * 73)


def test_timestamps_round_trip_as_aware_utc(session: Session) -> None:
    plus_two = timezone(timedelta(hours=2))
    user = User(
        email="ada@example.com",
        username="ada",
        password_hash="x",
        created_at=datetime(2026, 1, 1, 12, 0, tzinfo=plus_two),
    )
    session.add(user)
    session.commit()
    session.expire_all()
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.created_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)


def test_a_naive_timestamp_is_refused_before_it_reaches_the_database() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), dialect=None)  # type: ignore[arg-type]


def test_none_timestamps_pass_through() -> None:
    column_type = UTCDateTime()
    assert column_type.process_bind_param(None, dialect=None) is None  # type: ignore[arg-type]
    assert column_type.process_result_value(None, dialect=None) is None  # type: ignore[arg-type]
    assert utc_now().tzinfo is not None


def test_timestamps_from_another_time_zone_are_returned_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    returned = UTCDateTime().process_result_value(
        datetime(2026, 1, 1, 12, 0, tzinfo=plus_two),
        dialect=None,  # type: ignore[arg-type]
    )
    assert returned == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert returned is not None and returned.tzinfo is UTC


@pytest.mark.parametrize(
    ("variable", "value"), [("JWT_EXPIRES_MINUTES", "0"), ("BCRYPT_ROUNDS", "3")]
)
def test_the_token_and_hash_settings_are_bounded(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit, match=f"Invalid configuration: {variable}:"):
        load_settings()


def test_defaults_are_a_local_sqlite_file_and_an_hour_long_token() -> None:
    settings = Settings(_env_file=None)
    # Read from the environment the tests set up, so only check the ones they leave alone.
    assert settings.jwt_algorithm == "HS256"
    assert settings.jwt_expires_minutes == 60
    assert Settings.model_fields["database_url"].default == "sqlite:///./blog.db"
    assert Settings.model_fields["bcrypt_rounds"].default == 12
