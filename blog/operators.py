"""An operator's command: `python -m blog users deactivate|activate USERNAME`.

Lesson: some operations belong to whoever runs the service, not to any client of the API, so they
are a command on the server's shell (on Railway, `railway ssh` into the service) instead of a
route anyone could find. Deactivating an account keeps its posts and comments but shuts it out:
logins are refused, `end_every_token` ends its access tokens and its reset tokens, and its
notification sockets close. Closing sockets reaches the server's processes through Redis
(`REDIS_URL`) at once; without Redis the command runs in a process of its own that holds none
of them, and each socket closes when it next checks its token (`TOKEN_RECHECK_SECONDS` in
`blog/notifications.py`, a minute at most). `activate` lets
the account sign in again and revives nothing: its old tokens and reset links stay ended.
"""

import anyio
from fastapi import BackgroundTasks
from sqlmodel import Session, select

from blog.config import settings
from blog.database import engine
from blog.hub import notifications_across_processes
from blog.users.accounts import end_every_token
from blog.users.models import User

USAGE = "usage: python -m blog users deactivate|activate USERNAME"


def set_active(session: Session, username: str, active: bool, tasks: BackgroundTasks) -> None:
    """Mark the account (found by username, any case) active or not; deactivating ends what
    it holds, and `tasks` close its sockets once this is committed."""
    user = session.exec(select(User).where(User.username_key == username.lower())).first()
    if user is None:
        raise SystemExit(f"python -m blog users: there is no account named {username!r}")
    if not active:
        end_every_token(session, user, tasks)  # before the change: its UPDATE flushes first
    user.is_active = active
    session.add(user)
    session.commit()


async def change_account(action: str, username: str) -> None:
    """`deactivate` or `activate` the account named `username`."""
    tasks = BackgroundTasks()
    with Session(engine) as session:
        set_active(session, username, action == "activate", tasks)
    async with notifications_across_processes():
        await tasks()  # the sockets: through Redis to every process, when there is Redis


def run(action: str | None, username: str | None) -> None:
    if action not in ("deactivate", "activate") or not username:
        raise SystemExit(USAGE)
    anyio.run(change_account, action, username)
    print(f"blog: {username} is {action}d.")
    if action == "deactivate" and not settings.redis_url:
        print("Without REDIS_URL, its open sockets close when they next check it (a minute).")
