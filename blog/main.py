"""The application: where routers, error handlers, middleware and the docs are put together.

Lesson: `main.py` wires things up and holds no business rules. Each domain brings its own router;
`errors.py` brings the error handlers; `logs.py` the request log; the interactive docs (`/docs`,
`/redoc`) are served with their JavaScript and CSS from this app rather than a CDN, so they work
offline. On start-up it logs one line saying which environment and database it runs against.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from blog.comments.router import comments_router, post_comments_router
from blog.config import settings
from blog.database import describe_database
from blog.errors import install_error_handlers
from blog.health import router as health_router
from blog.logs import RequestLogMiddleware, configure_logging
from blog.posts.router import router as posts_router
from blog.users.router import auth_router, users_router

logger = logging.getLogger("blog")

DESCRIPTION = """
A blogging API written to be read: users, posts and comments with FastAPI and SQLModel.

**Try it:** `POST /auth/register`, then press **Authorize** and sign in with the same email (or
username) and password. Every error has the shape `{"detail": ..., "code": "..."}`.
"""


def operation_id(route: APIRoute) -> str:
    """Stable operation ids (`users-read_me`) so generated clients get readable method names."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logger.info(
        "blog starting: environment=%s database=%s",
        settings.environment,
        describe_database(settings.database_url),
    )
    yield


def create_app() -> FastAPI:
    configure_logging(json_lines=settings.environment == "production", level=settings.log_level)
    app = FastAPIOffline(
        title="blog",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        swagger_ui_parameters={"persistAuthorization": True},
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestLogMiddleware)  # added last: the outermost, so it times everything
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(posts_router)
    app.include_router(post_comments_router)
    app.include_router(comments_router)
    app.include_router(health_router)
    return app


app = create_app()
