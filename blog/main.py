"""The application: where routers, error handlers, middleware and the docs are put together.

Lesson: `main.py` wires things up and holds no business rules. Each domain brings its own router;
`errors.py` brings the error handlers; `logs.py` the request log; `headers.py` and
`body_limit.py` the protections every response and request get; the interactive docs (`/docs`,
`/redoc`) are served with their JavaScript and CSS from this app rather than a CDN, so they work
offline. On start-up it logs one line saying which environment and database it runs against.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware  # step 14
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from blog.body_limit import BodySizeLimit  # step 14
from blog.capacity import size_the_thread_pool  # step 15
from blog.comments.router import comments_router, post_comments_router  # step 11
from blog.config import DEVELOPMENT_SECRET_FILE, settings
from blog.database import describe_database
from blog.error_reports import start_error_reports  # step 21
from blog.errors import error_responses, install_error_handlers  # step 3
from blog.headers import SecurityHeaders  # step 14
from blog.health import router as health_router  # step 2
from blog.hub import notifications_across_processes  # step 18
from blog.logs import RequestLogMiddleware, configure_logging  # step 13
from blog.mail import warn_when_emails_go_nowhere  # step 8
from blog.metrics import router as metrics_router  # step 21
from blog.notifications import router as notifications_router  # step 18
from blog.openapi import finish_the_document  # step 3
from blog.posts.router import router as posts_router  # step 10
from blog.rate_limits import counters_for  # step 16
from blog.realtime import router as realtime_router  # step 9
from blog.users.recovery import router as recovery_router  # step 17
from blog.users.router import (
    auth_router,  # step 5
    users_router,  # step 4
)

logger = logging.getLogger("blog")

# What Swagger UI says first; each part comes with the lesson that makes it true.
DESCRIPTION = "A blogging API written to be read: users, posts and comments, FastAPI and SQLModel."
DESCRIPTION += ' Every error has the shape `{"detail": ..., "code": "..."}`.'  # step 3
DESCRIPTION += "\n\n**Try it:** `POST /auth/register`, then **Authorize** as that user."  # step 6


TAGS = [
    {"name": "auth", "description": "Register and log in: how you get a bearer token."},  # step 5
    {"name": "users", "description": "Your own account, and everyone's profiles."},  # step 4
    {"name": "posts", "description": "Anyone reads; authors edit and delete theirs."},  # step 10
    {"name": "comments", "description": "Comments on posts, by their authors."},  # step 11
    {"name": "health", "description": "Is the API up, and can it reach its database?"},  # step 2
]


def operation_id(route: APIRoute) -> str:
    """Operation ids are the routes' function names (`read_me`), unique in the app: generated
    clients name their methods after them, and the tag is theirs to add, not ours to repeat."""
    return route.name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """What the app holds while it runs: made at start-up, let go at shutdown."""
    where = describe_database(settings.database_url)
    started = f"blog starting: environment={settings.environment} database={where}"
    # Where notifications travel: through Redis between processes, or within this one.
    started += " notifications=" + ("redis" if settings.redis_url else "in-process")  # step 18
    logger.info(started)
    if settings.signs_with_development_secret:
        logger.warning(
            "JWT_SECRET is not set: signing with the development secret kept in %s "
            "(made when first needed, once for this folder; never for production).",
            DEVELOPMENT_SECRET_FILE,
        )
    warn_when_emails_go_nowhere()  # step 8
    size_the_thread_pool()  # step 15
    async with AsyncExitStack() as running:
        app.state.rate_limit_counters = counters_for(settings.redis_url)  # step 16
        await running.enter_async_context(notifications_across_processes())  # step 18
        yield


def create_app() -> FastAPI:
    json_lines = settings.environment == "production"  # step 13
    configure_logging(json_lines=json_lines, level=settings.log_level)  # step 13
    app = FastAPIOffline(
        title="blog",
        version="1.0.0",
        description=DESCRIPTION,
        license_info={"name": "MIT", "identifier": "MIT"},  # the LICENSE file
        # Relative: the document describes whichever host serves it (yours, or Railway's).
        servers=[{"url": "/", "description": "This server"}],
        lifespan=lifespan,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        # Any route that needs the database may answer 503 (busy, or the database is down).
        responses=error_responses(503),  # step 3
        swagger_ui_parameters={"persistAuthorization": True},
        # `/posts/` is a 404: Starlette's redirect to `/posts` would take its host from the
        # request's Host header, which anyone can set (an open redirect).
        redirect_slashes=False,
    )
    install_error_handlers(app)  # step 3
    finish_the_document(app)  # step 3
    if settings.cors_origins:  # step 14
        app.add_middleware(  # step 14
            CORSMiddleware,  # step 14
            allow_origins=settings.cors_origins,  # step 14
            allow_methods=["*"],  # step 14
            allow_headers=["*"],  # step 14
        )  # step 14
    # The last added is the outermost: the request log times everything, every response gets
    # the security headers, and an oversized body is refused before anything else runs.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)  # step 14
    app.add_middleware(SecurityHeaders)  # step 14
    app.add_middleware(RequestLogMiddleware)  # step 13
    app.include_router(health_router)  # step 2
    app.include_router(auth_router)  # step 5
    app.include_router(recovery_router)  # step 17
    app.include_router(users_router)  # step 4
    app.include_router(realtime_router)  # step 9
    app.include_router(notifications_router)  # step 18
    app.include_router(posts_router)  # step 10
    app.include_router(post_comments_router)  # step 11
    app.include_router(comments_router)  # step 11
    app.include_router(metrics_router)  # step 21
    return app


start_error_reports()  # step 21
app = create_app()
