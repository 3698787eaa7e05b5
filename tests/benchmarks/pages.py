"""Benchmark: what a page of posts costs at any depth, and what a search costs, at 1 k, 100 k and
1 M posts on PostgreSQL.

For each size it fills a fresh database with that many posts (one author; each body holds common
words, and one post a rare one), starts the start command (`railway.json`, one worker) on it, and
times each request 30 times, one after the other, after 3 to warm up: the first page, a page at
`offset=9000`, the last page by `offset` and by `before`, and searches for a rare word, a word in
no post, and a common word from halfway down with `before`. It prints the median and the 90th
percentile, in milliseconds, with the client's own time in them, then the table's and the search
indexes' sizes. Sizes are run one after the other, so compare rows of one run, not runs of
different days.

Run it from the repository root: `.venv/bin/python -m tests.benchmarks.pages` (about 5 minutes,
most of it filling the database with a million posts); `--sizes 1000,100000` for fewer.
"""

import argparse
import http.client
import statistics
import sys
import time

from sqlalchemy import create_engine, text

from tests.benchmarks.requests_cost import app_environment
from tests.helpers import fresh_postgres_database
from tests.servers import free_port, migrate, running, start_command, wait_until_healthy

RARE_WORD = "quetzalcoatl"  # in one post
MISSING_WORD = "xylophonist"  # in none
COMMON_WORD = "garden"  # in every post
TIMES, WARM_UP = 30, 3


def fill(url: str, posts: int) -> tuple[int, str]:
    """`posts` posts by one author, one with RARE_WORD in its body; the oldest post's id, and
    the sizes on disk."""
    engine = create_engine(url)
    with engine.begin() as connection:
        author = connection.execute(
            text(
                "INSERT INTO users (email, username, username_key, password_hash, bio, "
                "is_active, created_at) VALUES ('ada@example.com', 'ada', 'ada', 'x', '', true, "
                "now()) RETURNING id"
            )
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO posts (title, body, author_id, comment_count, created_at, "
                "updated_at) SELECT 'Post number ' || n, 'Notes from the " + COMMON_WORD + ", day "
                "' || n || ': what grew, what the weather did, and what to plant next.' || "
                "CASE WHEN n = :middle THEN ' A " + RARE_WORD + " visited.' ELSE '' END, "
                ":author, 0, now() - (:posts - n) * interval '1 second', now() "
                "FROM generate_series(1, :posts) AS n"
            ),
            {"author": author, "posts": posts, "middle": posts // 2},
        )
        connection.execute(text("ANALYZE"))
        oldest = connection.execute(text("SELECT min(id) FROM posts")).scalar_one()
        sizes = connection.execute(
            text(
                "SELECT pg_table_size('posts'), pg_relation_size('ix_posts_title_trgm'), "
                "pg_relation_size('ix_posts_body_trgm')"
            )
        ).one()
    engine.dispose()
    table, title, body = (size / 2**20 for size in sizes)
    return int(oldest), f"table {table:.0f}, title index {title:.0f}, body index {body:.0f}"


def timed(port: int, path: str) -> tuple[float, float]:
    """(median, 90th percentile) in ms of GET `path`, on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    for attempt in range(WARM_UP + TIMES):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        if attempt >= WARM_UP:
            times.append((time.perf_counter() - start) * 1000)
    connection.close()
    return statistics.median(times), statistics.quantiles(times, n=10)[-1]


def requests_for(posts: int, oldest: int) -> list[tuple[str, str]]:
    newest = oldest + posts - 1
    return [
        ("first page", "/posts?limit=20"),
        ("offset=9000", f"/posts?limit=20&offset={min(9000, posts - 20)}"),
        ("the last page, by offset", f"/posts?limit=20&offset={posts - 20}"),
        ("the last page, by before", f"/posts?limit=20&before={oldest + 20}"),
        ("q= a word in one post", f"/posts?limit=20&q={RARE_WORD}"),
        ("q= a word in none", f"/posts?limit=20&q={MISSING_WORD}"),
        (
            "q= a common word, before=",
            f"/posts?limit=20&q={COMMON_WORD}&before={newest - posts // 2}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes", default="1000,100000,1000000")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    server = options.server.replace("postgresql://", "postgresql+psycopg2://", 1)
    results: dict[str, dict[int, tuple[float, float]]] = {}
    disk: dict[int, str] = {}
    for posts in sizes:
        with fresh_postgres_database(server) as url:
            migrate(url)
            print(f"filling {posts:,} posts...", file=sys.stderr)
            oldest, disk[posts] = fill(url, posts)
            port = free_port()
            environment = app_environment(url, bcrypt_rounds=4)
            with running(start_command(sys.executable, port), environment) as worker:
                wait_until_healthy(f"http://127.0.0.1:{port}", worker)
                for name, path in requests_for(posts, oldest):
                    results.setdefault(name, {})[posts] = timed(port, path)
    print(f"\n{'request (median / p90, ms)':30}" + "".join(f"{size:>18,}" for size in sizes))
    for name, by_size in results.items():
        cells = [f"{by_size[size][0]:8.1f} / {by_size[size][1]:<7.1f}" for size in sizes]
        print(f"{name:30}" + "".join(f"{cell:>18}" for cell in cells))
    for posts, size in disk.items():
        print(f"MiB at {posts:,} posts: {size}")


if __name__ == "__main__":
    main()
