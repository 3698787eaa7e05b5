"""Settings and secrets: every environment variable the app reads, validated in one place.

Lesson: configuration is input too, so it gets the same Pydantic validation as a request body.
`Settings` reads the process environment and, in development, a `.env` file; `settings` is the one
validated instance the rest of the package imports. A wrong value stops the app at start-up with one
line naming the setting (never its value), which is how a deployment should fail: early, loudly, and
without leaking a secret into the logs. Production refuses to start without a real `JWT_SECRET`;
development without one makes its own when it first needs it, once, in a git-ignored file, so that
several workers and restarts all sign with the same secret.
"""

import os
import secrets
import tempfile
from pathlib import Path
from typing import (
    Annotated,  # step 14
    Literal,
)

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,  # step 14
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from blog.cpus import half_the_cpus  # step 15
from blog.file_handles import half_the_file_handles  # step 9
from blog.secret_strength import MIN_SECRET_BITS, WEAK_SECRET, entropy_bits  # step 12

MIN_PRODUCTION_SECRET_BYTES = 32
# The largest WebSocket frame: uvicorn refuses larger ones (1009), blog/realtime.py checks too.
WEBSOCKET_MAX_FRAME_BYTES = 64 * 1024  # step 9
# The most a request's line and headers may take together: h11, the HTTP parser the start command
# names, answers more with its own 400; httptools, uvicorn's default, keeps reading any amount.
MAX_REQUEST_HEAD_BYTES = 16 * 1024  # step 14
# Connections one process keeps open, sockets included; past it uvicorn answers requests 503.
MAX_CONNECTIONS = 900  # step 14
# Where development keeps the secret it makes for itself: in the folder the app runs in (beside the
# default `blog.db`), git-ignored, so every worker and every restart signs with the same one.
DEVELOPMENT_SECRET_FILE = Path(".dev-jwt-secret")

# What the pool must allow: one connection kept for /health, and a session for every request that
# hashes a password; a request holding a session must always get a thread to finish in. The pool's
# connections are DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW, the sessions one less.
POOL_TOO_SMALL = "DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW must be at least 2"  # step 15
HASHES_OVER_POOL = "PASSWORD_HASH_CONCURRENCY must be less than the pool's connections"  # step 15
THREADS_UNDER_POOL = "WORKER_THREADS must be more than the database sessions"  # step 15

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]  # step 13


def development_secret(path: Path = DEVELOPMENT_SECRET_FILE) -> str:
    """The secret in `path`, made (readable by this user only) if there is none yet.

    Two workers starting at once must end up with the same secret: each writes a candidate to a
    file of its own, then links it into place, which only the first can do; the other reads it.
    """
    if not path.exists():
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as candidate:
            candidate.write(secrets.token_urlsafe(32))
        try:
            os.link(candidate.name, path)
        except FileExistsError:
            pass  # another process was first: use its secret
        finally:
            os.unlink(candidate.name)
    return path.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Railway and Heroku hand out `postgres://` URLs; SQLAlchemy wants a driver name
    (psycopg2, the driver the design names; docs/performance.md compares it with psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


class Settings(BaseSettings):
    """Every setting, with its default. Names match the environment variables (case-insensitive)."""

    # An empty variable (`JWT_SECRET=` in a copied .env.example) means "not set": the default.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )
    # Not a setting: whether development made its own JWT secret, for the start-up warning.
    _signs_with_development_secret: bool = PrivateAttr(default=False)

    environment: Environment = "development"
    database_url: str = "sqlite:///./blog.db"
    # Connection pool (PostgreSQL and a SQLite file): connections kept open, extra ones allowed
    # under load. One of them is kept for /health; the rest are the request sessions, and a request
    # waits at most `database_pool_timeout` seconds for one before it is answered 503 server_busy.
    database_pool_size: int = Field(default=5, ge=1, le=100)  # step 15
    database_max_overflow: int = Field(default=10, ge=0, le=100)  # step 15
    database_pool_timeout: float = Field(default=10, gt=0, le=120)  # step 15
    # How many requests of one client may hold or wait for a slot at once; the rest wait a turn.
    sessions_per_client: int = Field(default=4, ge=1, le=1000)  # step 15
    # Threads for plain `def` routes and dependencies, bcrypt and background tasks: more than the
    # sessions, so that a request holding a session always gets a thread to finish with.
    worker_threads: int = Field(default=40, ge=2, le=1000)  # step 15
    # How long opening a connection may take before the database counts as unreachable
    # (whole seconds; PostgreSQL's client library waits at least 2).
    database_connect_timeout: int = Field(default=5, ge=2, le=60)  # step 15
    # /health answers 503 after this many seconds without a database answer, however long
    # connecting would take.
    health_check_timeout: float = Field(default=1.5, gt=0, le=30)  # step 2
    # No request waits on the database longer than this: PostgreSQL's statement and lock
    # timeouts (then 503), SQLite's wait for a locked database file.
    database_statement_timeout: float = Field(default=10, gt=0, le=600)  # step 15
    # Request bodies larger than this are refused with 413 before anything reads them. The
    # default is just above the largest valid request (a post at its limits, every character
    # escaped as JSON's \uXXXX): many bodies at once each cost no more than that.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=100 * 1024 * 1024)  # step 14
    # Brute force: this many failed logins for one account from one client within the window,
    # and that client's logins to that account are refused (429) until the window has passed.
    login_max_failures: int = Field(default=10, ge=1, le=1000)  # step 16
    login_window_seconds: int = Field(default=900, ge=1, le=86_400)  # step 16
    # And this many logins from one client in all, whatever the names: made-up names would each
    # get a count of their own, and a flood of them takes every turn at bcrypt from the others.
    login_max_per_client: int = Field(default=100, ge=1, le=100_000)  # step 16
    # Registrations per client per hour.
    register_max_per_client: int = Field(default=20, ge=1, le=100_000)  # step 16
    # Posts and comments one account may write per hour: no account fills the disk.
    write_max_per_account: int = Field(default=100, ge=1, le=100_000)  # step 16
    # Password reset: how long an emailed token works, and how many requests per hour one email
    # address and one client may make (each request for a known address sends an email).
    password_reset_minutes: int = Field(default=30, ge=1, le=24 * 60)  # step 17
    password_reset_max_per_email: int = Field(default=3, ge=1, le=100_000)  # step 17
    password_reset_max_per_client: int = Field(default=10, ge=1, le=100_000)  # step 17
    # Made-up or spent reset tokens one client may send in the window before a 429.
    password_reset_confirm_max_failures: int = Field(default=10, ge=1, le=100_000)  # step 17
    password_reset_confirm_window_seconds: int = Field(default=900, ge=1, le=86_400)  # step 17
    # None means "not set": development then signs with the secret it keeps in
    # DEVELOPMENT_SECRET_FILE, tests with a random one per process, and production refuses to
    # start (see `require_real_secret_in_production`).
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"  # step 5
    jwt_expires_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)  # step 5
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)  # step 5
    # How many bcrypt hashes may run at once per process, and how long a request waits for its
    # turn before it is answered 503 server_busy.
    password_hash_concurrency: int = Field(default_factory=half_the_cpus, ge=1, le=256)  # step 15
    password_hash_timeout: float = Field(default=10, gt=0, le=120)  # step 15
    # Comma-separated in the environment: CORS_ORIGINS=https://a.example,https://b.example
    cors_origins: Annotated[list[str], NoDecode] = []  # step 14
    log_level: LogLevel = "INFO"  # step 13
    # Welcome emails: "console" logs them (development), "smtp" sends them with smtplib.
    email_backend: Literal["console", "smtp"] = "console"  # step 8
    smtp_host: str = "localhost"  # step 8
    smtp_port: int = Field(default=587, ge=1, le=65535)  # step 8
    smtp_username: str | None = None  # step 8
    smtp_password: SecretStr | None = None  # step 8
    smtp_from: str = "blog <noreply@blog.example.test>"  # step 8
    smtp_starttls: bool = True  # step 8
    smtp_timeout: float = Field(default=10, gt=0, le=120)  # step 8
    # WebSockets one process holds in all, one client address on the echo and one account on
    # the notifications; a socket over a cap is closed with 1013 (try again later).
    websocket_max_open: int = Field(default_factory=half_the_file_handles, ge=1)  # step 9
    websocket_max_per_client: int = Field(default=20, ge=1, le=100_000)  # step 9
    websocket_max_per_account: int = Field(default=5, ge=1, le=1_000)  # step 18
    # Monitoring: `/metrics` answers only to this bearer token (unset: 404); where unhandled
    # errors are reported (unset: nowhere); the replica, as Railway names it, on every metric.
    metrics_token: SecretStr | None = None  # step 21
    sentry_dsn: SecretStr | None = None  # step 21
    railway_replica_id: str = "local"  # step 21
    # A Redis URL, for what several processes (workers, replicas) must share: the rate-limit
    # counts (lesson 16) and the notifications (lesson 18). Unset, each process keeps its own.
    redis_url: str | None = None  # step 16

    @field_validator("database_url")
    @classmethod
    def check_database_url(cls, url: str) -> str:
        url = normalise_database_url(url)
        try:
            make_url(url)
        except ArgumentError:
            raise ValueError(
                "is not a database URL (like postgresql://user:pass@host/db)"
            ) from None
        return url

    @field_validator("cors_origins", mode="before")  # step 14
    @classmethod  # step 14
    def split_comma_separated(cls, value: object) -> object:  # step 14
        if isinstance(value, str):  # step 14
            return [origin.strip() for origin in value.split(",") if origin.strip()]  # step 14
        return value  # step 14

    @field_validator("log_level", mode="before")  # step 13
    @classmethod  # step 13
    def upper_case_log_level(cls, value: object) -> object:  # step 13
        return value.upper() if isinstance(value, str) else value  # step 13

    @model_validator(mode="after")
    def require_real_secret_in_production(self) -> "Settings":
        if self.environment == "production":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if len(secret.encode()) < MIN_PRODUCTION_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET must be set to at least {MIN_PRODUCTION_SECRET_BYTES} bytes "
                    "when ENVIRONMENT=production (generate one with: "
                    'python3 -c "import secrets; print(secrets.token_urlsafe(32))")'
                )
            # Long is not enough: 32 times `a` is 32 bytes and no secret at all.
            if entropy_bits(secret) < MIN_SECRET_BITS:  # step 12
                raise ValueError(WEAK_SECRET)  # step 12
        elif self.jwt_secret is None and self.environment == "development":
            self._signs_with_development_secret = True  # made on first use: see jwt_secret_value
        elif self.jwt_secret is None:  # ENVIRONMENT=test: each process its own
            self.jwt_secret = SecretStr(secrets.token_urlsafe(32))
        return self

    @model_validator(mode="after")  # step 15
    def size_threads_with_the_pool(self) -> "Settings":  # step 15
        if self.database_sessions < 1:  # step 15
            raise ValueError(POOL_TOO_SMALL)  # step 15
        if self.password_hash_concurrency > self.database_sessions:  # step 15
            raise ValueError(HASHES_OVER_POOL)  # step 15
        if self.worker_threads <= self.database_sessions:  # step 15
            raise ValueError(THREADS_UNDER_POOL)  # step 15
        return self  # step 15

    @property  # step 15
    def database_sessions(self) -> int:  # step 15
        # How many requests may hold a session at once: the pool, less one kept for /health.
        return self.database_pool_size + self.database_max_overflow - 1  # step 15

    @property
    def signs_with_development_secret(self) -> bool:
        """True when JWT_SECRET was not set and development made its own (the app warns)."""
        return self._signs_with_development_secret

    @property
    def jwt_secret_value(self) -> str:
        # Development's own secret is made when a token is first signed or checked, so a
        # command that signs nothing (`python -m blog --help`) leaves no file behind.
        if self.jwt_secret is None:
            self.jwt_secret = SecretStr(development_secret())
        return self.jwt_secret.get_secret_value()


def describe_invalid_settings(error: ValidationError) -> str:
    """One line naming each wrong setting and why, without echoing any value."""
    problems = []
    for problem in error.errors():
        setting = "_".join(str(part) for part in problem["loc"]).upper()
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{setting}: {message}" if setting else message)
    return "Invalid configuration: " + "; ".join(problems)


def load_settings() -> Settings:
    """Read the settings, or exit with one clear line instead of a traceback."""
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(describe_invalid_settings(error)) from None


settings = load_settings()
