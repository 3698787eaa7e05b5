"""`python -m blog`: bring the database schema up to date, then serve the API.

Lesson: the one command a newcomer runs. Migrations are applied first (Alembic owns the schema; the
app never calls `create_all`), so a fresh clone gets a SQLite `blog.db` with every table, and an
existing database gets whatever migrations it is missing. Then uvicorn serves the app.
`python -m blog seed` applies the migrations too, then adds demo users, posts and comments;
`python -m blog users deactivate|activate USERNAME` is an operator's command (`blog/operators.py`).
"""

import argparse
import os
import sys
from pathlib import Path

import uvicorn
from alembic import command
from alembic.config import Config

from blog import operators  # step 19
from blog.config import (
    MAX_CONNECTIONS,  # step 14
    MAX_REQUEST_HEAD_BYTES,  # step 14
    WEBSOCKET_MAX_FRAME_BYTES,  # step 9
    settings,
)
from blog.connections import (
    LimitedH11Protocol,  # step 14
    LimitedWebSocketProtocol,  # step 14
)
from blog.logs import configure_logging  # step 13

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def apply_migrations() -> None:
    # Log through the app's one handler (blog/logs.py), not a second one from alembic.ini, so
    # every line is formatted, and redacted, the same way.
    json_lines = settings.environment == "production"  # step 13
    configure_logging(json_lines=json_lines, level=settings.log_level)  # step 13
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


SEED_MODULE = Path(__file__).resolve().parent / "seed.py"


def run_seed() -> None:
    """`python -m blog seed`, once `blog/seed.py` is there (its lesson: "Push to deploy")."""
    if not SEED_MODULE.exists():
        raise SystemExit("python -m blog seed: blog/seed.py is not there yet")
    from blog import seed

    seed.run()


def python_command() -> str:
    """How to run this interpreter from here, as pasted: `.venv/bin/python` in the docs' venv."""
    relative = os.path.relpath(sys.executable)
    return sys.executable if relative.startswith("..") else relative


def offer_the_seed() -> None:
    """Point at the demo data when there is a seed to run and nothing in the database yet."""
    if not SEED_MODULE.exists() or settings.environment == "production":
        return
    from blog import seed

    if seed.no_users_yet():
        command = f"{python_command()} -m blog seed"
        print(f"blog: no data yet; `{command}` adds demo users, posts and comments")


COMMANDS = [
    "serve",
    "seed",
    "users",  # step 19
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"{python_command()} -m blog",
        description="Apply migrations, then serve the API (or run a command)",
    )
    parser.add_argument(
        "command", nargs="?", choices=COMMANDS, default="serve", help="default: serve"
    )
    parser.add_argument("action", nargs="?", help="users: deactivate or activate")  # step 19
    parser.add_argument("username", nargs="?", help="users: the account's username")  # step 19
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--reload", action="store_true", help="restart when the code changes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    apply_migrations()
    if options.command == "seed":
        run_seed()
        return
    if options.command == "users":  # step 19
        operators.run(options.action, options.username)  # step 19
        return  # step 19
    print(f"blog: {settings.environment}; docs at http://{options.host}:{options.port}/docs")
    offer_the_seed()
    uvicorn.run(
        "blog.main:app",
        host=options.host,
        port=options.port,
        reload=options.reload,
        # Larger WebSocket frames are refused (1009) by uvicorn.
        ws_max_size=WEBSOCKET_MAX_FRAME_BYTES,  # step 9
        # The same server options as railway.json's start command: a bounded request head, and
        # connections and sockets limited per client address (blog/connections.py).
        http=LimitedH11Protocol,  # step 14
        ws=LimitedWebSocketProtocol,  # step 14
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,  # step 14
        limit_concurrency=MAX_CONNECTIONS,  # step 14
        server_header=False,  # no `server: uvicorn`: nothing to tell a scanner which server runs
        # Compressing a client's every frame would cost the event loop more than it saves.
        ws_per_message_deflate=False,  # step 18
    )


if __name__ == "__main__":
    main()
