"""Benchmark: what unfinished request heads cost a worker, with h11 and with httptools.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.request_heads`. For each
HTTP parser it starts `railway.json`'s start command with that `--http` on a fresh SQLite file,
sends 10 connections each an unfinished 20 MB header (64 KiB at a time, until the server answers
or the 20 MB are sent), then one whole request with a 1 MB header, and prints the worker's
memory before and at its peak, how many of the 10 the server answered early, and the answer to
the 1 MB header. A benchmark prints figures; it asserts nothing (`tests/test_body_limit.py`
checks the start command's own bound).
"""

import os
import sys
import tempfile
from pathlib import Path

from tests.servers import free_port, memory_kib, migrate, running, start_command, wait_until_healthy
from tests.test_body_limit import MiB, at_once, send_head, stream_until_answered

CONNECTIONS = 10
HEADER_BYTES = 20 * MiB
REQUEST_LINE = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def measure(parser: str, folder: Path) -> str:
    database = f"sqlite:///{folder / f'{parser}.db'}"
    migrate(database)
    port = free_port()
    command = start_command(sys.executable, port)
    command[command.index("--http") + 1] = parser
    environment = {**os.environ, "DATABASE_URL": database, "ENVIRONMENT": "test"}
    with running(command, environment) as server:
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
        idle = memory_kib(server.pid)
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # restart the high-water mark
        start = REQUEST_LINE + b"X-Big: "
        answers = at_once(
            lambda: stream_until_answered(port, start, b"a" * 65536, HEADER_BYTES), CONNECTIONS
        )
        peak = memory_kib(server.pid, "VmHWM")
        big = send_head(port, REQUEST_LINE + b"X-Big: " + b"a" * MiB + b"\r\n\r\n")
    answered = sum(bool(answer) for answer in answers)
    return (
        f"{parser:10} memory {idle / 1024:.0f} -> peak {peak / 1024:.0f} MiB "
        f"(+{(peak - idle) / 1024:.0f}); answered early {answered} of {CONNECTIONS}; "
        f"a 1 MB header: {big.decode()}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for parser in ("httptools", "h11"):
            print(measure(parser, Path(folder)))


if __name__ == "__main__":
    main()
