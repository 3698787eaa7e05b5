"""Benchmark: real logins from many clients while one client sends its 100 logins at once.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.hash_queue` (`--database
sqlite` for a SQLite file, else a new database on `--server`). It starts one worker with the
start command of `railway.json`, production settings and bcrypt at production cost, so a 2-core
machine has one hash slot. Clients are told apart as Railway's proxy tells them apart, by the
`X-Forwarded-For` it appends (the start command trusts loopback as a proxy). One client, the
flooder, sends its `LOGIN_MAX_PER_CLIENT` logins to made-up names from 40 connections at once;
a second after it starts, 28 people log in one after another, each from an address of their own.
It prints the flooder's answers by status and the people's answers, median and slowest wait.
`--repo DIR` serves another checkout (a `git worktree` of an older commit) for a before-and-after.
A benchmark prints figures; it asserts nothing, so it is not a test.
"""

import argparse
import os
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.benchmarks.requests_cost import app_environment
from tests.benchmarks.wrk_runs import fresh_run
from tests.helpers import PASSWORD
from tests.servers import REPO_ROOT, free_port, request, running, start_command, wait_until_healthy

FLOODER, CONNECTIONS, PEOPLE, LOGINS_PER_CLIENT = "203.0.113.7", 40, 28, 100


def log_in(base: str, client: str, username: str, password: str) -> int:
    """The status of one login sent on behalf of `client`, as Railway's proxy would send it."""
    form = urllib.parse.urlencode({"username": username, "password": password})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": client}
    prepared = urllib.request.Request(f"{base}/auth/login", form.encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def flood_and_people(base: str) -> None:
    with ThreadPoolExecutor(CONNECTIONS) as flooders:
        started = time.perf_counter()
        guesses = [
            flooders.submit(log_in, base, FLOODER, f"nobody{n}", "guess guess guess")
            for n in range(LOGINS_PER_CLIENT)
        ]
        time.sleep(1)  # the flood is queued
        people, waits = Counter[int](), []
        for person in range(PEOPLE):
            sent = time.perf_counter()
            people[log_in(base, f"198.51.100.{person + 1}", "ada", PASSWORD)] += 1
            waits.append(time.perf_counter() - sent)
        flood = Counter(guess.result() for guess in guesses)
    print(f"the flooder's {LOGINS_PER_CLIENT} logins: {dict(sorted(flood.items()))}, "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    print(f"{PEOPLE} people's logins: {dict(sorted(people.items()))}; wait median "
          f"{statistics.median(waits):.2f} s, slowest {max(waits):.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the checkout to serve")
    options = parser.parse_args()
    with fresh_run(options.database, options.server, sys.executable, options.repo) as (url, _):
        port = free_port()
        environment = {
            **app_environment(url, bcrypt_rounds=12),
            "PYTHONPATH": str(options.repo),
            "LOGIN_MAX_PER_CLIENT": str(LOGINS_PER_CLIENT),
        }
        with running(start_command(sys.executable, port), environment, options.repo) as app:
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base, app)
            account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
            request(f"{base}/auth/register", "POST", account)
            print(f"{options.database}, one worker, {os.cpu_count()} CPUs, {options.repo}")
            flood_and_people(base)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
