"""Test fixtures: a database per test, a client wired to it, and signed-in users.

Lesson: tests never touch `blog.db`. The app's `get_session` dependency is overridden so that every
request gets a session on the test's database: a fresh in-memory SQLite database (`sqlite://`
with `StaticPool`, so all sessions share its one connection), built with `create_all`, foreign
keys on as in the app. `get_engine` is overridden too, for what works outside a request's session
(the health check, WebSockets, background tasks). With TEST_DATABASE_URL the same tests run on
PostgreSQL: the schema is built once, and every row is deleted after each test. The environment
is set before `blog` is imported, because settings are read once at import.
"""

import os
import secrets

os.environ.update(
    ENVIRONMENT="test",
    DATABASE_URL="sqlite://",
    JWT_SECRET=secrets.token_urlsafe(32),
    BCRYPT_ROUNDS="4",  # the minimum: hashing stays real but takes about a millisecond
    CORS_ORIGINS="",
    LOG_LEVEL="INFO",
)

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from blog.database import enable_sqlite_foreign_keys, get_engine, get_session
from blog.main import app
from tests.helpers import TEST_DATABASE_URL, Account, register


@pytest.fixture(name="engine")
def engine_fixture(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if TEST_DATABASE_URL is not None:
        yield request.getfixturevalue("postgres_engine")
        return
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    enable_sqlite_foreign_keys(engine)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[Engine]:
    """One engine and one schema for the whole run on PostgreSQL (TEST_DATABASE_URL)."""
    assert TEST_DATABASE_URL is not None
    engine = create_engine(TEST_DATABASE_URL)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    yield engine
    SQLModel.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_schema: Engine) -> Iterator[Engine]:
    """The run's PostgreSQL schema, emptied after the test (deleting the users deletes the rest)."""
    yield postgres_schema
    with postgres_schema.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(name="session")
def session_fixture(engine: Engine) -> Iterator[Session]:
    """A session for a test to look at what was stored."""
    with Session(engine) as session:
        yield session


@pytest.fixture(name="client")
def client_fixture(engine: Engine) -> Iterator[TestClient]:
    def get_session_override() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            yield session

    app.dependency_overrides[get_session] = get_session_override
    app.dependency_overrides[get_engine] = lambda: engine
    with TestClient(app) as client:
        yield client
    app.dependency_overrides.clear()


def exploding_session() -> Iterator[Session]:
    raise RuntimeError("secret internals: password=hunter2")
    yield  # a generator, like the get_session it stands in for


@pytest.fixture
def broken_client(client: TestClient) -> TestClient:
    """A client whose every database session fails with a bug, as an unexpected error would."""
    app.dependency_overrides[get_session] = exploding_session
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def user(client: TestClient) -> Account:
    return register(client, "ada")


@pytest.fixture
def other_user(client: TestClient) -> Account:
    return register(client, "grace")


@pytest.fixture
def third_user(client: TestClient) -> Account:
    return register(client, "linus")
