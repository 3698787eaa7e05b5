"""Benchmark: what each kind of request costs the app, next to a bare FastAPI route.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.requests_cost` (it needs
Debian's `wrk` and a PostgreSQL server: `--server postgresql://postgres@127.0.0.1:5432`). It makes
a new database, applies the migrations, adds 1,000 posts and 3,000 comments, and starts three
uvicorn workers: the app, `tests/benchmarks/bare_app.py` (one route, no database) and
`tests/benchmarks/minimal_app.py` (the smallest FastAPI + SQLModel app that lists and reads the
same posts). It loads each request type with `wrk -t1 -c4` for 5 s and prints requests per
second, wrk's p99, and the worker's own CPU time per request (from /proc before and after, which
is steadier than req/s), and that CPU as a multiple of the bare route's; then each worker's
memory, now and at its peak. A benchmark prints figures; it asserts nothing.

The app runs on what Railway installs: a fresh virtual environment of `requirements.txt` only
(`--python` names one to reuse). The dev install would load more (PyJWT imports `cryptography`
when it is there, 9 MiB more). Each request type is loaded twice: with the app, wrk and PostgreSQL
sharing both cores as they like, and with the app pinned to core 0 and wrk and PostgreSQL to core
1. On two cores the shared run swings by 10-20 % from run to run (threads of the app wait for
each other across cores); the pinned run is the app's own cost, steady to a few per cent.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.helpers import PASSWORD, fresh_postgres_database
from tests.servers import (
    REPO_ROOT,
    free_port,
    memory_kib,
    migrate,
    request,
    running,
    wait_until_healthy,
)

SECONDS = 5
CONNECTIONS = 4
POSTS, COMMENTS = 1_000, 3_000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> None:
    """Keep every thread of `pid` on `cpus` (threads started later inherit it)."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(thread), cpus)


def pin_database_backends(url: str, cpus: set[int]) -> None:
    """The PostgreSQL processes serving `url`'s database (the app's pooled connections)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        backends = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        for backend in backends:
            os.sched_setaffinity(backend, cpus)
    engine.dispose()


def lean_python(folder: Path) -> str:
    """A virtual environment of requirements.txt alone, as Railway installs it."""
    subprocess.run([sys.executable, "-m", "venv", str(folder / "lean")], check=True)
    pip = [str(folder / "lean" / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(REPO_ROOT / "requirements.txt")], check=True)
    return str(folder / "lean" / "bin" / "python")


def load(
    pid: int, url: str, script: Path | None = None, wrk_on: list[str] | None = None
) -> tuple[float, float, float]:
    """(requests per second, p99 in ms, the worker's CPU ms per request) under wrk."""
    command = [*(wrk_on or []), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    before = cpu_seconds(pid)
    report = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pid) - before
    served = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", report).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99, used * 1000 / max(served, 1)


def lua(folder: Path, name: str, method: str, body: str, headers: dict[str, str]) -> Path:
    lines = [f'wrk.method = "{method}"', f"wrk.body = '{body}'"]
    lines += [f'wrk.headers["{key}"] = "{value}"' for key, value in headers.items()]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(url: str, author_id: int) -> int:
    """1,000 posts and 3,000 comments in two statements; returns a post id to read."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO posts (title, body, author_id, created_at, updated_at) "
                "SELECT 'Post ' || n, repeat('Some text. ', 50), :author, now(), now() "
                "FROM generate_series(1, :posts) AS n"
            ),
            {"author": author_id, "posts": POSTS},
        )
        connection.execute(
            text(
                "INSERT INTO comments (body, post_id, author_id, created_at, updated_at) "
                "SELECT 'A comment.', p.id, :author, now(), now() "
                "FROM posts AS p, generate_series(1, :each) AS n"
            ),
            {"author": author_id, "each": COMMENTS // POSTS},
        )
        post_id = connection.execute(text("SELECT max(id) FROM posts")).scalar_one()
    engine.dispose()
    return int(post_id)


def app_environment(url: str, bcrypt_rounds: int) -> dict[str, str]:
    """How the benchmarks run the app: production settings on the database at `url`."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "a-benchmark-secret-that-is-long-enough-0123",
        "LOG_LEVEL": "WARNING",
        "BCRYPT_ROUNDS": str(bcrypt_rounds),
        "REGISTER_MAX_PER_CLIENT": "1000",
        "LOGIN_MAX_PER_CLIENT": "100000",  # floods of logins measure the hashing, not the 429
        "SESSIONS_PER_CLIENT": "1000",  # every request comes from one address here
        "WRITE_MAX_PER_ACCOUNT": "100000",  # the loads write as fast as they can
    }


def sign_up_and_seed(base: str, url: str) -> tuple[str, int]:
    """Register ada with the app running at `base` and seed the blog at `url` as hers; returns
    her token and a post id to read."""
    account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    token = request(f"{base}/auth/register", "POST", account)[1]["access_token"]
    me = request(f"{base}/users/me", headers={"Authorization": f"Bearer {token}"})[1]
    return token, seed(url, me["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--python", help="the app's interpreter (default: a new lean venv)")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")

    server = options.server.replace("postgresql://", "postgresql+psycopg2://", 1)
    with fresh_postgres_database(server) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        python = options.python or lean_python(folder)
        migrate(url)
        # Production's bcrypt cost: a login is mostly bcrypt.
        environment = app_environment(url, bcrypt_rounds=12)
        app_port, bare_port, minimal_port = free_port(), free_port(), free_port()
        uvicorn = ["-m", "uvicorn", "--no-access-log"]
        app_command = [python, *uvicorn, "blog.main:app", "--port", str(app_port)]
        bare_command = [python, *uvicorn, "tests.benchmarks.bare_app:app", "--port", str(bare_port)]
        minimal_app = "tests.benchmarks.minimal_app:app"
        minimal_command = [python, *uvicorn, minimal_app, "--port", str(minimal_port)]
        with (
            running(app_command, environment) as app,
            running(bare_command, environment, cwd=REPO_ROOT) as bare,
            running(minimal_command, environment, cwd=REPO_ROOT) as minimal,
        ):
            base = f"http://127.0.0.1:{app_port}"
            wait_until_healthy(base, app)
            token, post_id = sign_up_and_seed(base, url)
            signed_in = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            login_body = f"username=ada&password={PASSWORD.replace(' ', '+')}"
            minimal_base = f"http://127.0.0.1:{minimal_port}"
            cases = [
                ("GET /posts?limit=20", app, f"{base}/posts?limit=20", None),
                ("GET /posts/{id}", app, f"{base}/posts/{post_id}", None),
                ("GET /health", app, f"{base}/health", None),
                (
                    "POST /posts",
                    app,
                    f"{base}/posts",
                    lua(folder, "post", "POST", '{"title": "t", "body": "b"}', signed_in),
                ),
                (
                    "POST /posts/{id}/comments",
                    app,
                    f"{base}/posts/{post_id}/comments",
                    lua(folder, "comment", "POST", '{"body": "c"}', signed_in),
                ),
                (
                    "POST /auth/login",
                    app,
                    f"{base}/auth/login",
                    lua(folder, "login", "POST", login_body, form),
                ),
                ("minimal: GET /posts?limit=20", minimal, f"{minimal_base}/posts?limit=20", None),
                ("minimal: GET /posts/{id}", minimal, f"{minimal_base}/posts/{post_id}", None),
            ]
            for _, _, url_, script in cases:  # warm up
                subprocess.run(
                    ["wrk", "-t1", "-c1", "-d1s", *(["-s", str(script)] if script else []), url_],
                    capture_output=True,
                    check=True,
                )
            passes: list[tuple[str, list[str]]] = [("cores shared", [])]
            if len(os.sched_getaffinity(0)) >= 2:
                passes.append(
                    ("app on core 0; wrk and PostgreSQL on core 1", ["taskset", "-c", "1"])
                )
            for title, wrk_on in passes:
                if wrk_on:
                    for server in (app, bare, minimal):
                        pin(server.pid, {0})
                    pin_database_backends(url, {1})
                print(f"\n{title}")
                floor = load(bare.pid, f"http://127.0.0.1:{bare_port}/bare", wrk_on=wrk_on)
                head = f"{'request':28} {'req/s':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'x bare':>7}"
                print(head)
                rate, p99, cpu = floor
                print(f"{'bare FastAPI GET /bare':28} {rate:8.0f} {p99:8.1f} {cpu:11.2f} {1:7.1f}")
                for name, server, url_, script in cases:
                    rate, p99, cpu = load(server.pid, url_, script, wrk_on)
                    print(f"{name:28} {rate:8.0f} {p99:8.1f} {cpu:11.2f} {cpu / floor[2]:7.1f}")
            print()
            for name, server in [("app", app), ("minimal", minimal), ("bare FastAPI", bare)]:
                now, peak = memory_kib(server.pid) / 1024, memory_kib(server.pid, "VmHWM") / 1024
                print(f"{name} worker memory after the runs: {now:.0f} MiB (peak {peak:.0f} MiB)")


if __name__ == "__main__":
    main()
