"""Password hashing, tokens and stored timestamps, below the HTTP layer."""

from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest
from sqlmodel import Session

from blog.config import settings
from blog.database import UTCDateTime, utc_now
from blog.security import (
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)
from blog.users.models import User


def test_a_hash_verifies_its_password_only() -> None:
    password_hash = hash_password("correct horse")
    assert verify_password("correct horse", password_hash)
    assert not verify_password("correct horsE", password_hash)


def test_hashing_a_password_bcrypt_would_truncate_is_refused() -> None:
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password("a" * 73)


def test_a_password_bcrypt_would_truncate_never_verifies() -> None:
    assert not verify_password("a" * 73, hash_password("a" * 72))


def test_a_token_decodes_to_its_user_id_and_token_version() -> None:
    claims = decode_access_token(create_access_token(42, 7))
    assert claims is not None
    assert (claims.user_id, claims.token_version) == (42, 7)


def signed(claims: dict[str, object]) -> str:
    fresh = {"iat": utc_now(), "exp": utc_now() + timedelta(minutes=5), **claims}
    return jwt.encode(fresh, settings.jwt_secret_value, algorithm=settings.jwt_algorithm)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "42"},  # no version
        {"sub": "0", "ver": 0},  # no id is 0
        {"sub": "-5", "ver": 0},
        {"sub": str(2**31), "ver": 0},  # more than an id column holds
        {"sub": "ada", "ver": 0},
        {"sub": "42", "ver": "new"},
    ],
)
def test_a_signed_token_with_unusable_claims_is_invalid(claims: dict[str, object]) -> None:
    assert decode_access_token(signed(claims)) is None


def test_a_garbage_token_is_invalid() -> None:
    assert decode_access_token("not.a.token") is None


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
