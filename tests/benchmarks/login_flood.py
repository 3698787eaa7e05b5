"""Benchmark: does a flood of logins starve everyone else's reads?

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.login_flood` (it needs
Debian's `wrk`: `apt-get install wrk`). It starts one uvicorn worker on a fresh SQLite file with
the production bcrypt cost (`BCRYPT_ROUNDS=12`), adds a user and 20 posts, then measures
`GET /posts?limit=20` with one connection (wrk's latency percentiles), first on an idle server,
then while 16 connections log in with the right password as fast as they can (every one a full
bcrypt check). It prints both, and the ratio of the p99s: the design asks for at most 3.
`--repo DIR` runs the same against another checkout (e.g. a `git worktree` of an older commit),
for a before-and-after. A benchmark prints figures; it asserts nothing, so it is not a test.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.helpers import PASSWORD
from tests.servers import REPO_ROOT, free_port, migrate, request, running, wait_until_healthy

FLOOD_CONNECTIONS = 16
SECONDS = 8
LOGIN_SCRIPT = f"""
wrk.method = "POST"
wrk.body = "username=ada&password={PASSWORD.replace(" ", "+")}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int, seconds: int, script: Path | None = None) -> str:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    if script is not None:
        command += ["-s", str(script)]
    return subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout


def percentile_ms(report: str, percent: int) -> float:
    found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", report, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {percent}% line in wrk's report:\n{report}")
    return float(found.group(1)) * UNITS[found.group(2)]


def requests_per_second(report: str) -> float:
    found = re.search(r"^Requests/sec:\s+([\d.]+)", report, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the checkout to serve")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")

    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrate(database)
        script = Path(folder) / "login.lua"
        script.write_text(LOGIN_SCRIPT)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        environment = {
            **os.environ,
            "PYTHONPATH": str(options.repo),
            "DATABASE_URL": database,
            "ENVIRONMENT": "test",
            "BCRYPT_ROUNDS": "12",
            "LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "uvicorn", "blog.main:app", "--port", str(port)]
        with running(command, environment, cwd=options.repo) as server:
            wait_until_healthy(base_url, server)
            account = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
            token = request(f"{base_url}/auth/register", "POST", account)[1]["access_token"]
            for index in range(20):
                post = {"title": f"Post {index}", "body": "Some text. " * 50}
                headers = {"Authorization": f"Bearer {token}"}
                request(f"{base_url}/posts", "POST", post, headers)
            reads = f"{base_url}/posts?limit=20"
            wrk(reads, 1, 2)  # warm up

            idle = wrk(reads, 1, SECONDS)
            flood_report: list[str] = []
            flood = threading.Thread(
                target=lambda: flood_report.append(
                    wrk(f"{base_url}/auth/login", FLOOD_CONNECTIONS, SECONDS + 2, script)
                )
            )
            flood.start()
            time.sleep(1)  # let the flood build up
            flooded = wrk(reads, 1, SECONDS)
            flood.join()

    idle_p50, idle_p99 = percentile_ms(idle, 50), percentile_ms(idle, 99)
    flood_p50, flood_p99 = percentile_ms(flooded, 50), percentile_ms(flooded, 99)
    print(f"checkout: {options.repo}")
    print(f"GET /posts?limit=20, idle:         p50 {idle_p50:7.1f} ms   p99 {idle_p99:7.1f} ms")
    print(f"GET /posts?limit=20, login flood:  p50 {flood_p50:7.1f} ms   p99 {flood_p99:7.1f} ms")
    print(
        f"p99 during the flood / idle p99:   {flood_p99 / idle_p99:.1f}x (the design: at most 3x)"
    )
    print(f"logins served during the flood:    {requests_per_second(flood_report[0]):.1f}/s")


if __name__ == "__main__":
    main()
