"""Benchmark: open and close notification sockets and print the server's memory.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.websocket_memory`.
It starts `python -m blog` on a fresh SQLite file, signs a user in, opens sockets to
`/ws/notifications` in batches (each held until the server says "ready", then closed), and reads
the server process's resident memory (VmRSS) before, during and after. If closed sockets were
retained (by the hub, or anywhere), memory would grow with every round; the figures show it does
not. Then it holds `SOCKETS_PER_ROUND` sockets open at once and prints what each costs. The
socket caps are raised for the run (one account opens them all). A benchmark prints figures; it
asserts nothing, so it is not part of the test suite.
"""

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from websockets.sync.client import connect

from tests.servers import (
    REPO_ROOT,
    free_port,
    memory_kib,
    request,
    running,
    wait_until_healthy,
)

SOCKETS_PER_ROUND = 1_000
HELD_AT_ONCE = 100
ROUNDS = 5


def open_and_close(url: str, count: int) -> int:
    """Opens `count` sockets, HELD_AT_ONCE at a time; returns the memory peak while held."""
    peak = 0
    for _ in range(count // HELD_AT_ONCE):
        with ExitStack() as sockets:
            for _ in range(HELD_AT_ONCE):
                socket = sockets.enter_context(connect(url))
                socket.recv(timeout=10)  # {"type": "ready"}: the hub holds it now
            peak = max(peak, memory_kib(SERVER_PID))
    return peak


def main() -> None:
    global SERVER_PID
    folder = Path(tempfile.mkdtemp())
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "ENVIRONMENT": "test",
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
        "WEBSOCKET_MAX_OPEN": str(SOCKETS_PER_ROUND),
        "WEBSOCKET_MAX_PER_ACCOUNT": str(SOCKETS_PER_ROUND),
    }
    environment.pop("REDIS_URL", None)
    base_url = f"http://127.0.0.1:{port}"
    with running(
        [sys.executable, "-m", "blog", "--port", str(port)], environment, folder
    ) as server:
        SERVER_PID = server.pid
        wait_until_healthy(base_url, server)
        body = {"email": "bench@example.com", "username": "bench", "password": "benchmark pw"}
        token = request(f"{base_url}/auth/register", "POST", body)[1]["access_token"]
        url = f"ws://127.0.0.1:{port}/ws/notifications?token={token}"

        open_and_close(url, HELD_AT_ONCE)  # warm-up: imports, caches, allocator arenas
        time.sleep(1)
        before = memory_kib(SERVER_PID)
        print(f"server memory before: {before / 1024:.1f} MiB")
        started = time.perf_counter()
        after_each_round = []
        for round_number in range(1, ROUNDS + 1):
            peak = open_and_close(url, SOCKETS_PER_ROUND)
            time.sleep(1)  # let the server finish closing
            after = memory_kib(SERVER_PID)
            after_each_round.append(after)
            print(
                f"round {round_number}: {SOCKETS_PER_ROUND} sockets opened and closed "
                f"({HELD_AT_ONCE} open at once, peak {peak / 1024:.1f} MiB); memory after: "
                f"{after / 1024:.1f} MiB ({(after - before) / 1024:+.1f})"
            )
        elapsed = time.perf_counter() - started
        later_sockets = (ROUNDS - 1) * SOCKETS_PER_ROUND
        growth = after_each_round[-1] - after_each_round[0]
        print(f"{ROUNDS * SOCKETS_PER_ROUND} sockets in {elapsed:.1f} s")
        print(
            f"after round 1 (the high-water mark of {HELD_AT_ONCE} open sockets): "
            f"{growth / 1024:+.1f} MiB over {later_sockets} more sockets, "
            f"{growth * 1024 / later_sockets:.0f} bytes per socket"
        )
        idle = memory_kib(SERVER_PID)
        with ExitStack() as sockets:
            for _ in range(SOCKETS_PER_ROUND):
                sockets.enter_context(connect(url)).recv(timeout=10)
            held = memory_kib(SERVER_PID)
        print(
            f"{SOCKETS_PER_ROUND} idle sockets held at once: {(held - idle) / 1024:+.1f} MiB, "
            f"{(held - idle) / SOCKETS_PER_ROUND:.0f} KiB each"
        )


SERVER_PID = 0

if __name__ == "__main__":
    main()
