"""Pagination: every list is a bounded page, `?limit&offset`, in one envelope, `Page[T]`.

Lesson: a list endpoint without a limit is a denial of service waiting for a big table. Every list
takes `Pagination` (at most 100 items, 20 by default) and answers a `Page`: the items, the total,
and where the page starts. Counting every row of a big table costs more than reading a page of it,
so `total` stops at `TOTAL_CAP`: below it the count is exact, and `TOTAL_CAP` means "that many or
more" (the OpenAPI document says so). From lesson 20 on, every page names the next (`next`).
"""

from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlmodel import Session, func, select
from sqlmodel.sql.expression import SelectOfScalar

MAX_OFFSET = 1_000_000_000
TOTAL_CAP = 1_000


class PageParams(BaseModel):
    """`?limit&offset`: at most 100 items per page, 20 by default."""

    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


Pagination = Annotated[PageParams, Query()]

ItemT = TypeVar("ItemT")
NEXT_PAGE = (  # step 20
    'The relative URL of the next page, also sent as `Link: <URL>; rel="next"`; '  # step 20
    "null on the last page."  # step 20
)  # step 20


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: the items, how many there are in all, and where the page starts."""

    items: Sequence[ItemT]
    total: int = Field(description=f"How many items match; {TOTAL_CAP:,} means that many or more")
    limit: int
    offset: int
    # `next` is in every answer (null on the last page), so the document marks it required.
    model_config = {"json_schema_serialization_defaults_required": True}  # step 20
    next: str | None = Field(default=None, description=NEXT_PAGE)  # step 20


def count_up_to_cap(
    session: Session, rows: SelectOfScalar[Any], page: PageParams, found: int
) -> int:
    """How many rows `rows` selects, counting no further than `TOTAL_CAP`. A page that is not
    full (and not past the end) already says: the rows before it and the `found` on it."""
    if 0 < found < page.limit or (found == 0 and page.offset == 0):
        return min(page.offset + found, TOTAL_CAP)
    counted = rows.limit(TOTAL_CAP).subquery()
    return session.exec(select(func.count()).select_from(counted)).one()
