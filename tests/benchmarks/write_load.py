"""Benchmark: does one worker keep answering signed-in writes as the connections multiply?

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.write_load` (it needs
Debian's `wrk` and, for `--database postgres`, a PostgreSQL server: `--server URL`). It starts one
uvicorn worker as Railway does, on a fresh migrated database (PostgreSQL, or a SQLite file
with `--database sqlite`), signs a user up, and sends `POST /posts` with wrk for 12 s at 32
connections, then at 256. For each it prints the answers by status and code (wrk counts them in
a Lua `response` hook), then how long `/health` took to answer 200 once the load stopped.

`--comments` measures instead what the newest post's comments cost the first page: wrk's mean
latency and the worker's CPU time per request for `GET /posts?limit=20` (4 connections, 5 s) with
1,000 posts, then again once the newest post has 10,000 comments. `--repo DIR` serves another
checkout (a `git worktree` of an older commit) for a before-and-after. A benchmark prints
figures; it asserts nothing, so it is not a test.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.benchmarks.requests_cost import app_environment, cpu_seconds
from tests.benchmarks.wrk_runs import (
    UNITS,
    fresh_run,
    seconds_to_healthy,
    wrk,
)
from tests.helpers import PASSWORD
from tests.servers import REPO_ROOT, free_port, request, running, start_command, wait_until_healthy

SECONDS = 12
POST = """
wrk.method = "POST"
wrk.body = '{"title": "Under load", "body": "A post written while many others are."}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
"""


def sign_up(base: str) -> str:
    account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    status, body = request(f"{base}/auth/register", "POST", account)
    assert status == 201, body
    return str(body["access_token"])


def first_page_cost(base: str, pid: int) -> tuple[float, float]:
    """(wrk's mean latency in ms, the worker's CPU ms per request) for the first page."""
    command = ["wrk", "-t1", "-c4", "-d5s", "--latency", f"{base}/posts?limit=20"]
    before = cpu_seconds(pid)
    report = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pid) - before
    served = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"Latency\s+([\d.]+)(us|ms|s)", report).groups()  # type: ignore[union-attr]
    mean = float(value) * UNITS[unit]
    return mean, used * 1000 / max(served, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--python", default=sys.executable, help="the app's interpreter")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the checkout to serve")
    parser.add_argument("--comments", action="store_true", help="the 10,000-comment first page")
    options = parser.parse_args()
    fresh = fresh_run(options.database, options.server, options.python, options.repo)
    with fresh as (url, folder):
        port = free_port()
        environment = {**app_environment(url, bcrypt_rounds=4), "PYTHONPATH": str(options.repo)}
        with running(start_command(options.python, port), environment, options.repo) as app:
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base, app)
            token = sign_up(base)
            print(f"{options.database}, {options.repo}")
            if options.comments:
                measure_comments(base, url, app.pid)
                return
            for connections in (32, 256):
                run = wrk(f"{base}/posts", connections, SECONDS, POST % {"token": token}, folder)
                healthy = seconds_to_healthy(base)
                print(
                    f"POST /posts, {connections} connections, {SECONDS} s: {run.answers}; "
                    f"socket errors: {run.socket_errors}; /health 200 after {healthy:.2f} s"
                )


def measure_comments(base: str, url: str, pid: int) -> None:
    author = request(f"{base}/users")[1]["items"][0]["id"]
    seed_posts(url, author)
    quiet = first_page_cost(base, pid)
    newest = request(f"{base}/posts?limit=1")[1]["items"][0]["id"]
    seed_comments(url, author, newest)
    busy = first_page_cost(base, pid)
    count = request(f"{base}/posts/{newest}")[1]["comment_count"]
    print(f"first page, newest post without comments: {quiet[0]:.2f} ms, {quiet[1]:.2f} ms CPU")
    print(f"first page, newest post with {count:,}: {busy[0]:.2f} ms, {busy[1]:.2f} ms CPU")


def seed_posts(url: str, author: int) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        # One a second, so the newest is the last.
        times = [f"2026-01-01 00:{n // 60:02d}:{n % 60:02d}+00:00" for n in range(1000)]
        rows = [{"title": f"Post {n}", "author": author, "at": at} for n, at in enumerate(times)]
        connection.execute(
            text(
                "INSERT INTO posts (title, body, author_id, created_at, updated_at) "
                "VALUES (:title, 'Some text.', :author, :at, :at)"
            ),
            rows,
        )
    engine.dispose()


def seed_comments(url: str, author: int, post_id: int) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        rows = [{"post": post_id, "author": author} for _ in range(10_000)]
        connection.execute(
            text(
                "INSERT INTO comments (body, post_id, author_id, created_at, updated_at) "
                "VALUES ('A comment.', :post, :author, '2026-01-02 00:00:00+00:00', "
                "'2026-01-02 00:00:00+00:00')"
            ),
            rows,
        )
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
