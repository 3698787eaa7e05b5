"""Pages at any depth: a page starts where the last one ended, and names the next one.

Lesson: `OFFSET 9000` asks the database to read 9,000 rows only to throw them away, so the deeper
the page, the slower the answer, however good the indexes. A keyset page starts from a position
instead: `?before=` a post's id is `WHERE id < :before`, and with `ORDER BY id DESC LIMIT 20` the
database reads 20 rows off the primary key's index, wherever they are in the table. The lists
order by id because ids grow with time and are never reused, so "older than post 123" still
means something once post 123 is deleted. Every page then names the next one, from its last
item on: the answer's `next` and the standard `Link: <...>; rel="next"` header (RFC 8288), so a
client follows links instead of doing arithmetic. `offset` keeps working: the slow way, for
jumping to page 40 at once. A search (`?q=`) needs an index of its own: `ILIKE '%tea%'` may match
anywhere in the text, where an ordinary index cannot help, so on PostgreSQL the migration
"search from a trigram index" indexes every run of three letters or digits of titles and
bodies (pg_trgm), and a search needs such a run: `!!!`, or a row of emoji, has none to look up,
so it would read every post. SQLite has no such index and reads every
post, folding the case of ASCII letters only (`É` does not find `é`).
"""

import re
from typing import Any

from fastapi import Request, Response

from blog.pagination import TOTAL_CAP, Page

THREE_LETTERS_OR_DIGITS = r"[^\W_]{3}"  # a word character, less the underscore
# The same rule in the OpenAPI document, beside the one against NUL characters.
SEARCHABLE = {"pattern": rf"^[^\x00]*{THREE_LETTERS_OR_DIGITS}[^\x00]*$"}


def has_a_trigram(text: str) -> str:
    """The search text, if the index can look it up: 3 letters or digits in a row."""
    if re.search(THREE_LETTERS_OR_DIGITS, text) is None:
        raise ValueError("a search needs 3 letters or digits in a row")
    return text


def has_more(listed: Page[Any]) -> bool:
    """Whether items follow this page: it is full, and `total` does not end with it."""
    full = len(listed.items) == listed.limit
    counted_to_the_cap = listed.total == TOTAL_CAP  # "that many or more"
    return full and (listed.offset + listed.limit < listed.total or counted_to_the_cap)


def link_to_next(request: Request, response: Response, **position: int | None) -> str:
    """The next page's relative URL: this request's, from `position` on, without `offset`;
    sent as the `Link` header too."""
    url = request.url.remove_query_params(["offset", *position])
    next_url = f"{url.path}?{url.include_query_params(**position).query}"
    response.headers["Link"] = f'<{next_url}>; rel="next"'
    return next_url
