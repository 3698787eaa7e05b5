"""Settings and secrets: every environment variable the app reads, validated in one place.

Lesson: configuration is input too, so it gets the same Pydantic validation as a request body.
`Settings` reads the process environment and, in development, a `.env` file; `settings` is the one
validated instance the rest of the package imports. A wrong value stops the app at start-up with one
line naming the setting (never its value), which is how a deployment should fail: early, loudly, and
without leaking a secret into the logs. Production refuses to start without a real `JWT_SECRET`;
development without one makes its own, once, in a git-ignored file, so that several workers and
restarts all sign with the same secret.
"""

import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

logger = logging.getLogger(__name__)

MIN_PRODUCTION_SECRET_BYTES = 32
# The largest WebSocket frame: uvicorn refuses larger ones (1009), blog/realtime.py checks too.
WEBSOCKET_MAX_FRAME_BYTES = 64 * 1024
# Where development keeps the secret it makes for itself: in the folder the app runs in (beside the
# default `blog.db`), git-ignored, so every worker and every restart signs with the same one.
DEVELOPMENT_SECRET_FILE = Path(".dev-jwt-secret")

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


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


def cpus_available() -> float:
    """The CPUs this process may use: a container's quota, else the cores it may run on
    (`os.cpu_count()` would say the host's cores in a container)."""
    quota = cgroup_cpu_quota()
    return quota if quota is not None else len(os.sched_getaffinity(0))


def cgroup_cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup's quota allows: v2's `cpu.max` ("quota period"), or v1's two files;
    None without a quota."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    return int(quota) / int(period)


def half_the_cpus() -> int:
    """The default password-hash concurrency: half the CPUs (at least one), so that a flood of
    logins leaves the other half for everything else."""
    return max(1, int(cpus_available() // 2))


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

    environment: Environment = "development"
    database_url: str = "sqlite:///./blog.db"
    # Connection pool (PostgreSQL and a SQLite file): connections kept open, extra ones allowed
    # under load. One of them is kept for /health; the rest are the request sessions, and a request
    # waits at most `database_pool_timeout` seconds for one before it is answered 503 server_busy.
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_max_overflow: int = Field(default=10, ge=0, le=100)
    database_pool_timeout: float = Field(default=10, gt=0, le=120)
    # Threads for plain `def` routes and dependencies, bcrypt and background tasks: more than the
    # sessions, so that a request holding a session always gets a thread to finish with.
    worker_threads: int = Field(default=40, ge=2, le=1000)
    # How long opening a connection may take before the database counts as unreachable
    # (whole seconds; PostgreSQL's client library waits at least 2).
    database_connect_timeout: int = Field(default=5, ge=2, le=60)
    # /health answers 503 after this many seconds without a database answer, however long
    # connecting would take.
    health_check_timeout: float = Field(default=1.5, gt=0, le=30)
    # No request waits on the database longer than this: PostgreSQL's statement and lock
    # timeouts (then 503), SQLite's wait for a locked database file.
    database_statement_timeout: float = Field(default=10, gt=0, le=600)
    # Request bodies larger than this are refused with 413 before anything reads them.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # Brute force: this many failed logins for one account from one client within the window,
    # and that client's logins to that account are refused (429) until the window has passed.
    login_max_failures: int = Field(default=10, ge=1, le=1000)
    login_window_seconds: int = Field(default=900, ge=1, le=86_400)
    # Registrations per client per hour.
    register_max_per_client: int = Field(default=20, ge=1, le=100_000)
    # Password reset: how long an emailed token works, and how many requests per hour one email
    # address and one client may make (each request for a known address sends an email).
    password_reset_minutes: int = Field(default=30, ge=1, le=24 * 60)
    password_reset_max_per_email: int = Field(default=3, ge=1, le=100_000)
    password_reset_max_per_client: int = Field(default=10, ge=1, le=100_000)
    # None means "not set": development and tests then get a random per-process secret,
    # production refuses to start (see `require_real_secret_in_production`).
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_expires_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # How many bcrypt hashes may run at once per process, and how long a request waits for its
    # turn before it is answered 503 server_busy.
    password_hash_concurrency: int = Field(default_factory=half_the_cpus, ge=1, le=256)
    password_hash_timeout: float = Field(default=10, gt=0, le=120)
    # Comma-separated in the environment: CORS_ORIGINS=https://a.example,https://b.example
    cors_origins: Annotated[list[str], NoDecode] = []
    log_level: LogLevel = "INFO"
    # Welcome emails: "console" logs them (development), "smtp" sends them with smtplib.
    email_backend: Literal["console", "smtp"] = "console"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "blog <noreply@blog.example.test>"
    smtp_starttls: bool = True
    smtp_timeout: float = Field(default=10, gt=0, le=120)
    # Real-time notifications across processes (several workers or replicas): a Redis URL.
    # Unset, notifications reach only the sockets held by the process that raised them.
    redis_url: str | None = None

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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def upper_case_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def require_real_secret_in_production(self) -> "Settings":
        if self.environment == "production":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if len(secret.encode()) < MIN_PRODUCTION_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET must be set to at least {MIN_PRODUCTION_SECRET_BYTES} bytes "
                    "when ENVIRONMENT=production (generate one with: "
                    'python -c "import secrets; print(secrets.token_urlsafe(32))")'
                )
        elif self.jwt_secret is None and self.environment == "development":
            self.jwt_secret = SecretStr(development_secret())
            logger.warning(
                "JWT_SECRET is not set: using the development secret in %s "
                "(made once for this folder; never for production).",
                DEVELOPMENT_SECRET_FILE,
            )
        elif self.jwt_secret is None:  # ENVIRONMENT=test: each process its own
            self.jwt_secret = SecretStr(secrets.token_urlsafe(32))
        return self

    @model_validator(mode="after")
    def size_threads_with_the_pool(self) -> "Settings":
        if self.database_sessions < 1:
            raise ValueError(
                "DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW must be at least 2 "
                "(one connection is kept for /health)"
            )
        if self.password_hash_concurrency >= self.database_pool_size + self.database_max_overflow:
            raise ValueError(
                "PASSWORD_HASH_CONCURRENCY must be less than DATABASE_POOL_SIZE + "
                "DATABASE_MAX_OVERFLOW (a request hashing a password holds a connection)"
            )
        if self.worker_threads <= self.database_sessions:
            raise ValueError(
                f"WORKER_THREADS must be more than the {self.database_sessions} database sessions "
                "(DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW - 1)"
            )
        return self

    @property
    def database_sessions(self) -> int:
        """How many requests may hold a database session at once: the pool, less one
        connection kept for /health."""
        return self.database_pool_size + self.database_max_overflow - 1

    @property
    def jwt_secret_value(self) -> str:
        assert self.jwt_secret is not None  # set by require_real_secret_in_production
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
