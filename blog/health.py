"""`GET /health`: is the app up, and can it reach its database? Railway's health check asks this.

Lesson: a health check that only says "the process runs" hides the outage users see. This one runs
`SELECT 1` on a pooled connection (one connection is always left for it: request sessions take at
most the rest), and answers within `HEALTH_CHECK_TIMEOUT` seconds whatever the database does: a
database that refuses connections answers at once, but one that silently drops them would keep
the check waiting for the whole connect timeout, so the query runs in a worker thread that is
abandoned when the time is up.
"""

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from blog.config import settings
from blog.database import get_engine

router = APIRouter(tags=["health"])


class Health(BaseModel):
    ok: bool
    database: str


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable"}},
)
async def health(engine: Annotated[Engine, Depends(get_engine)], response: Response) -> Health:
    """200 when the database answers a query, 503 when it does not (within the time limit)."""
    answered = False
    with anyio.move_on_after(settings.health_check_timeout):
        answered = await anyio.to_thread.run_sync(database_answers, engine, abandon_on_cancel=True)
    if answered:
        return Health(ok=True, database="ok")
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(ok=False, database="unreachable")
