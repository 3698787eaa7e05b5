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
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.comments.router import comments_router, post_comments_router
from blog.config import settings
from blog.database import describe_database
from blog.errors import install_error_handlers
from blog.health import router as health_router
from blog.logs import RequestLogMiddleware, configure_logging
from blog.posts.router import router as posts_router
from blog.realtime import hub
from blog.realtime import router as realtime_router
from blog.users.router import auth_router, users_router

logger = logging.getLogger("blog")

DESCRIPTION = """
A blogging API written to be read: users, posts and comments with FastAPI and SQLModel.

**Try it:** `POST /auth/register`, then press **Authorize** and sign in with the same email (or
username) and password. Every error has the shape `{"detail": ..., "code": "..."}`.
"""


TAGS = [
    {"name": "auth", "description": "Register and log in: how you get a bearer token."},
    {"name": "users", "description": "Your own account, and everyone's public profiles."},
    {"name": "posts", "description": "The blog: anyone reads, authors edit and delete their own."},
    {
        "name": "comments",
        "description": "Comments on posts: authors edit theirs; a post's author may delete any.",
    },
    {"name": "health", "description": "Is the API up, and can it reach its database?"},
]


# The docs pages may load scripts, styles, images and fonts from this app only. ReDoc's bundle
# always shows a logo from its makers' CDN; this policy stops the browser from fetching it, so
# the docs work, and stay quiet, on a machine without internet.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; connect-src 'self'"
)
DOCS_PAGES = ("/docs", "/redoc")


class DocsContentSecurityPolicy:
    """ASGI middleware: adds `DOCS_CONTENT_SECURITY_POLICY` to the docs pages' responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOCS_PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
            await send(message)

        await self.app(scope, receive, send_with_policy)


def operation_id(route: APIRoute) -> str:
    """Stable operation ids (`users-read_me`) so generated clients get readable method names."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logger.info(
        "blog starting: environment=%s database=%s notifications=%s",
        settings.environment,
        describe_database(settings.database_url),
        "redis" if settings.redis_url else "in-process",
    )
    if not settings.redis_url:
        yield
        return
    await hub.start(settings.redis_url)
    try:
        yield
    finally:
        await hub.stop()  # only the lifespan that started the Redis listener stops it


def create_app() -> FastAPI:
    configure_logging(json_lines=settings.environment == "production", level=settings.log_level)
    app = FastAPIOffline(
        title="blog",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=TAGS,
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
    app.add_middleware(DocsContentSecurityPolicy)
    app.add_middleware(RequestLogMiddleware)  # added last: the outermost, so it times everything
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(posts_router)
    app.include_router(post_comments_router)
    app.include_router(comments_router)
    app.include_router(health_router)
    app.include_router(realtime_router)
    return app


app = create_app()
