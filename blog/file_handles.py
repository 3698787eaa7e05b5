"""File handles: how many sockets one process may hold, sized against what it may open.

Lesson: every socket is a file handle, and a process that has used them all can no longer accept
a connection, open a database connection or write a file. The operating system's soft limit
(`ulimit -n`) is read once, at start-up; WebSockets get half of it, at most `MOST_OPEN_SOCKETS`,
and the other half stays for HTTP connections, the database pool and files.
"""

import resource

MOST_OPEN_SOCKETS = 500  # per process by default, however many handles it may open


def half_the_file_handles() -> int:
    """Half this process's soft file-handle limit, at most `MOST_OPEN_SOCKETS`."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MOST_OPEN_SOCKETS
    return max(1, min(soft // 2, MOST_OPEN_SOCKETS))
