"""Benchmark: instructions per request, counted by valgrind, a figure the machine cannot move.

CPU time on a shared 2-core machine swings by 20-50 % from run to run, too much to see a 10 %
change. `valgrind --tool=callgrind` counts the instructions the worker runs in user space: the
same code gives the same count to within 1 %, whatever else the machine is doing. It does not
see the kernel's share (system calls, the wake-ups of a thread hop), which `requests_cost` does;
use this one to compare two versions of the code, that one for what a request costs.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.instructions --server
postgresql://postgres@127.0.0.1:5432 --python /tmp/lean/bin/python` (it needs valgrind:
`apt-get install valgrind`). It seeds the same database as `requests_cost`, starts one worker
under callgrind (about 50 times slower), and for each request type sends 20 requests to warm up,
zeroes the counters, sends 100 more on one keep-alive connection and prints the instructions per
request (millions), for a bare FastAPI route too, and for the list and the read of
`tests/benchmarks/minimal_app.py` (the smallest FastAPI + SQLModel app that serves them). About
five minutes. `--http` picks uvicorn's HTTP protocol: by default the one `railway.json` names
(h11 with `blog/connections.py`'s limits), `h11` for uvicorn's own, `httptools` for its default
parser.
"""

import argparse
import http.client
import json
import subprocess
import tempfile
import time
from pathlib import Path

from tests.benchmarks.requests_cost import app_environment, lean_python, sign_up_and_seed
from tests.helpers import fresh_postgres_database
from tests.servers import free_port, migrate, running, wait_until_healthy

WARM_UP, COUNTED = 20, 100


def send(
    connection: http.client.HTTPConnection, case: tuple[str, str, str], headers: dict[str, str]
) -> int:
    method, path, body = case
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def wait_until_answering(
    connection: http.client.HTTPConnection, case: tuple[str, str, str, str], headers: dict[str, str]
) -> None:
    """Until the worker, slowed down by valgrind, has started and answers the first case."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            send(connection, case[1:], headers)
            return
        except OSError:
            connection.close()
            time.sleep(1)
    raise AssertionError("the worker did not start under valgrind within 300 s")


def instructions_so_far(pid: int, out_file: Path) -> int:
    """Dump the worker's counters (since the last zeroing) and read their total."""
    subprocess.run(["callgrind_control", "--dump", str(pid)], capture_output=True, check=True)
    dumps = sorted(out_file.parent.glob(f"{out_file.name}*"), key=lambda path: path.stat().st_mtime)
    for line in dumps[-1].read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise AssertionError(f"no totals in {dumps[-1]}")


def count(
    command: list[str],
    environment: dict[str, str],
    port: int,
    cases: list[tuple[str, str, str, str]],
    headers: dict[str, str],
) -> list[float]:
    """Millions of instructions per request for each case, in one worker under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}.%p"]
        with running([*valgrind, *command], environment) as worker:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            wait_until_answering(connection, cases[0], headers)
            per_request = []
            for name, method, path, body in cases:
                case = (method, path, body)
                for _ in range(WARM_UP):
                    send(connection, case, headers)
                zero = ["callgrind_control", "--zero", str(worker.pid)]
                subprocess.run(zero, capture_output=True, check=True)
                statuses = {send(connection, case, headers) for _ in range(COUNTED)}
                assert statuses <= {200, 201}, f"{name}: {statuses}"
                per_request.append(instructions_so_far(worker.pid, out_file) / COUNTED / 1e6)
            return per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--python", help="the app's interpreter (default: a new lean venv)")
    parser.add_argument(
        "--http",
        default="blog.connections:LimitedH11Protocol",
        choices=["blog.connections:LimitedH11Protocol", "h11", "httptools"],
        help="uvicorn's HTTP protocol",
    )
    options = parser.parse_args()
    server = options.server.replace("postgresql://", "postgresql+psycopg2://", 1)
    with fresh_postgres_database(server) as url, tempfile.TemporaryDirectory() as tmp:
        python = options.python or lean_python(Path(tmp))
        migrate(url)
        environment = app_environment(url, bcrypt_rounds=4)  # logins are not counted here
        port = free_port()
        uvicorn = [python, "-m", "uvicorn", "--no-access-log", "--http", options.http]
        app = [*uvicorn, "blog.main:app", "--port", str(port)]
        with running(app, environment) as plain_worker:  # to register and seed, not counted
            base = f"http://127.0.0.1:{port}"
            wait_until_healthy(base, plain_worker)
            token, post_id = sign_up_and_seed(base, url)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        cases = [
            ("GET /posts?limit=20", "GET", "/posts?limit=20", ""),
            ("GET /posts/{id}", "GET", f"/posts/{post_id}", ""),
            ("GET /health", "GET", "/health", ""),
            ("POST /posts", "POST", "/posts", json.dumps({"title": "t", "body": "b"})),
            ("POST /posts/{id}/comments", "POST", f"/posts/{post_id}/comments", '{"body": "c"}'),
        ]
        bare_port = free_port()
        bare = [*uvicorn, "tests.benchmarks.bare_app:app"]
        bare_case = [("bare", "GET", "/bare", "")]
        [floor] = count(
            [*bare, "--port", str(bare_port)], environment, bare_port, bare_case, headers
        )
        counts = count(app, environment, port, cases, headers)
        minimal_port = free_port()
        minimal = [*uvicorn, "tests.benchmarks.minimal_app:app"]
        minimal_cases = [
            (f"minimal: {name}", method, path, body) for name, method, path, body in cases[:2]
        ]
        counts += count(
            [*minimal, "--port", str(minimal_port)], environment, minimal_port, minimal_cases, {}
        )
    print(f"{'request':28} {'M instructions':>15} {'x bare':>7}")
    print(f"{'bare FastAPI GET /bare':28} {floor:15.2f} {1:7.1f}")
    for (name, *_), millions in zip(cases + minimal_cases, counts, strict=True):
        print(f"{name:28} {millions:15.2f} {millions / floor:7.1f}")


if __name__ == "__main__":
    main()
