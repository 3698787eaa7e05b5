"""Benchmark: one worker under a realistic mix of requests, and under a flood of logins.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.load` (it needs Debian's
`wrk`, and a PostgreSQL server for the default `--database postgres`: `--server URL`; or
`--database sqlite` for a SQLite file). It starts one uvicorn worker as Railway does, with
production settings and bcrypt at production cost (`--bcrypt-rounds`, default 12), signs up eight
users and seeds 1,000 posts, then prints two tables. `--repo DIR` serves another checkout (a
`git worktree` of an older commit) for a before-and-after.

The mix: for `--seconds` (20) at 32, 64 and 256 connections, 40 % `GET /posts?limit=20`, 25 %
`GET /posts/{id}`, 13 % `POST /posts`, 13 % `POST /posts/{id}/comments`, 6 % `POST /auth/login`
and 3 % `POST /auth/register`, chosen at random per request by wrk's Lua `request` hook. Per
level: the answers by status (4xx and 5xx with their error code), wrk's p50 and p99, the worker's
RSS before and after, and the seconds until `/health` answers 200 once the load stops.

The login flood: `GET /posts?limit=20` with 16 connections for 10 s on its own, then again while
48 connections log in with the right password as fast as they can (each a full bcrypt check).
It prints the reads served both times and their ratio (the design asks for at least 30 %), and
the logins' answers by status. A benchmark prints figures; it asserts nothing, so it is not a test.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from tests.benchmarks.requests_cost import app_environment
from tests.benchmarks.write_load import seed_posts
from tests.benchmarks.wrk_runs import (
    Run,
    fresh_run,
    seconds_to_healthy,
    wrk,
)
from tests.helpers import PASSWORD
from tests.servers import (
    REPO_ROOT,
    free_port,
    memory_kib,
    request,
    running,
    start_command,
    wait_until_healthy,
)

USERS = 8
LEVELS = (32, 64, 256)
READERS, LOGGERS_IN, FLOOD_SECONDS = 16, 48, 10
FORM_PASSWORD = PASSWORD.replace(" ", "+")

# One request of the mix per call; `%(...)s` are filled in from the seeded blog.
MIX = """
math.randomseed(%(seed)d)
tokens = {%(tokens)s}
users = {%(users)s}
posts = {%(posts)s}
registered = 0
local json = {["Content-Type"] = "application/json"}
local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
local function signed_in()
  return {["Content-Type"] = "application/json",
          ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]}
end
request = function()
  local roll = math.random(100)
  local post = posts[math.random(#posts)]
  if roll <= 40 then
    return wrk.format("GET", "/posts?limit=20", {})
  elseif roll <= 65 then
    return wrk.format("GET", "/posts/" .. post, {})
  elseif roll <= 78 then
    return wrk.format("POST", "/posts", signed_in(), '{"title": "Mixed", "body": "A post."}')
  elseif roll <= 91 then
    return wrk.format("POST", "/posts/" .. post .. "/comments", signed_in(), '{"body": "Hi."}')
  elseif roll <= 97 then
    local body = "username=" .. users[math.random(#users)] .. "&password=%(form_password)s"
    return wrk.format("POST", "/auth/login", form, body)
  end
  registered = registered + 1
  local name = "mix%(level)d_" .. registered
  local body = '{"email": "' .. name .. '@example.com", "username": "' .. name ..
    '", "password": "%(password)s"}'
  return wrk.format("POST", "/auth/register", json, body)
end
"""

LOGIN = f"""
wrk.method = "POST"
wrk.body = "username=user1&password={FORM_PASSWORD}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def sign_up_users(base: str) -> list[str]:
    """Register user1..user8; their tokens."""
    tokens = []
    for n in range(1, USERS + 1):
        account = {"email": f"user{n}@example.com", "username": f"user{n}", "password": PASSWORD}
        status, body = request(f"{base}/auth/register", "POST", account)
        assert status == 201, body
        tokens.append(body["access_token"])
    return tokens


def lua_list(values: list[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def mix(base: str, tokens: list[str], folder: Path, app_pid: int, seconds: int) -> None:
    posts = [str(post["id"]) for post in request(f"{base}/posts?limit=100")[1]["items"]]
    users = [f"user{n}" for n in range(1, USERS + 1)]
    print(f"\nThe mix, {seconds:g} s per level")
    print(f"{'connections':>11} {'answers':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>13} "
          f"{'healthy s':>9}  answers by status; socket errors")  # fmt: skip
    for level in LEVELS:
        script = MIX % {
            "seed": level, "tokens": lua_list(tokens), "users": lua_list(users),
            "posts": ", ".join(posts), "level": level, "password": PASSWORD,
            "form_password": FORM_PASSWORD,
        }  # fmt: skip
        before = memory_kib(app_pid) / 1024
        run = wrk(base, level, seconds, script, folder)
        after = memory_kib(app_pid) / 1024
        healthy = seconds_to_healthy(base)
        print(
            f"{level:>11} {run.served:>8} {run.percentile_ms(50):>8.1f} "
            f"{run.percentile_ms(99):>8.1f} {before:>6.0f} → {after:<4.0f} {healthy:>9.2f}  "
            f"{run.answers}; {run.socket_errors}"
        )


def login_flood(base: str, folder: Path) -> None:
    reads = f"{base}/posts?limit=20"
    alone = wrk(reads, READERS, FLOOD_SECONDS, "", folder)
    logins: list[Run] = []
    flood = threading.Thread(
        target=lambda: logins.append(
            wrk(f"{base}/auth/login", LOGGERS_IN, FLOOD_SECONDS + 3, LOGIN, folder)
        )
    )
    flood.start()
    time.sleep(1.5)  # let the flood build up
    flooded = wrk(reads, READERS, FLOOD_SECONDS, "", folder)
    flood.join()
    ratio = flooded.served / max(alone.served, 1)
    print(f"\nThe login flood: GET /posts?limit=20, {READERS} connections, {FLOOD_SECONDS} s")
    print(f"{'':24} {'reads':>7} {'p50 ms':>8} {'p99 ms':>8}  answers by status")
    for name, run in [("alone", alone), (f"while {LOGGERS_IN} log in", flooded)]:
        print(f"{name:24} {run.served:>7} {run.percentile_ms(50):>8.1f} "
              f"{run.percentile_ms(99):>8.1f}  {run.answers}")  # fmt: skip
    print(f"reads served during the flood: {ratio:.0%} of those served alone (the design: ≥ 30 %)")
    print(f"the logins' answers: {logins[0].answers}; socket errors: {logins[0].socket_errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=20, help="per level of the mix")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the checkout to serve")
    options = parser.parse_args()
    fresh = fresh_run(options.database, options.server, sys.executable, options.repo)
    with fresh as (url, folder):
        port = free_port()
        environment = {
            **app_environment(url, options.bcrypt_rounds),
            "PYTHONPATH": str(options.repo),
            "REGISTER_MAX_PER_CLIENT": "100000",  # the mix registers from one address
        }
        command = start_command(sys.executable, port)
        with running(command, environment, options.repo) as app:
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base, app)
            tokens = sign_up_users(base)
            first_user = {"Authorization": f"Bearer {tokens[0]}"}
            seed_posts(url, request(f"{base}/users/me", headers=first_user)[1]["id"])
            print(f"{options.database}, one worker, bcrypt cost {options.bcrypt_rounds}, "
                  f"{os.cpu_count()} CPUs, {options.repo}")  # fmt: skip
            mix(base, tokens, folder, app.pid, options.seconds)
            login_flood(base, folder)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
