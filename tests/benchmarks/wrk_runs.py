"""What the load benchmarks share: wrk runs that tally the answers, the app as Railway starts it,
and a fresh migrated database for each run.

`wrk(url, connections, seconds, script, folder)` runs wrk with a Lua `script` (which may set the
request, or a `request` hook that makes each one) and hooks that count every answer by status,
4xx and 5xx with their error code; `Run` reads the report back.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from tests.helpers import fresh_postgres_database
from tests.servers import request

# Counts each answer in wrk's one thread by status (4xx and 5xx with their error code), and
# prints the tally as JSON and the socket errors once the run is done.
TALLY_HOOKS = """
answers = {}
response = function(status, headers, body)
  local key = tostring(status)
  if status >= 400 then key = key .. " " .. (string.match(body, '"code":"([a-z_]+)"') or "?") end
  answers[key] = (answers[key] or 0) + 1
end
threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local parts = {}
  for key, count in pairs(threads[1]:get("answers")) do
    table.insert(parts, string.format('"%s": %d', key, count))
  end
  io.write("TALLY {" .. table.concat(parts, ", ") .. "}\\n")
  io.write(string.format("ERRORS %d %d %d\\n", summary.errors.connect,
    summary.errors.read + summary.errors.write, summary.errors.timeout))
end
"""

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


class Run:
    """One wrk run's report, read."""

    def __init__(self, report: str) -> None:
        self.report = report
        tally = re.search(r"^TALLY (.*)$", report, re.MULTILINE)
        errors = re.search(r"^ERRORS (\d+) (\d+) (\d+)$", report, re.MULTILINE)
        assert tally and errors, report
        self.answers: dict[str, int] = dict(sorted(json.loads(tally.group(1)).items()))
        connect, read_write, timeout = errors.groups()
        self.socket_errors = f"connect {connect}, read/write {read_write}, timeout {timeout}"

    @property
    def served(self) -> int:
        return sum(self.answers.values())

    def percentile_ms(self, percent: int) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", self.report, re.MULTILINE)
        return float(found.group(1)) * UNITS[found.group(2)] if found else float("nan")


def wrk(url: str, connections: int, seconds: int, script: str, folder: Path) -> Run:
    path = folder / f"script-{time.monotonic_ns()}.lua"
    path.write_text(script + TALLY_HOOKS)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    done = subprocess.run([*command, "-s", str(path), url], capture_output=True, text=True)
    return Run(done.stdout)


def seconds_to_healthy(base: str, limit: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if request(f"{base}/health")[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    return float("inf")


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")


@contextmanager
def fresh_run(kind: str, server: str, python: str, repo: Path) -> Iterator[tuple[str, Path]]:
    """(a database URL, a scratch folder) for one run: a new database on the PostgreSQL `server`,
    or a SQLite file in the folder, migrated by `repo`'s own migrations (an older checkout has
    its own); both go when the run ends."""
    require_wrk()
    server = server.replace("postgresql://", "postgresql+psycopg2://", 1)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sqlite = nullcontext(f"sqlite:///{folder / 'blog.db'}")
        with fresh_postgres_database(server) if kind == "postgres" else sqlite as url:
            subprocess.run(
                [python, "-c", f"from tests.servers import migrate; migrate({url!r})"],
                cwd=repo, check=True, capture_output=True,
            )  # fmt: skip
            yield url, folder
