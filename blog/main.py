"""The application: where routers, error handlers, middleware and the docs are put together.

Lesson: `main.py` wires things up and holds no business rules. Each domain brings its own router;
`errors.py` brings the error handlers; the interactive docs (`/docs`, `/redoc`) are served with
their JavaScript and CSS from this app rather than a CDN, so they work offline. `GET /health` is
here because it belongs to no domain: it proves the app is up *and* can reach its database.
"""

import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from blog.comments.router import comments_router, post_comments_router
from blog.config import settings
from blog.deps import SessionDep
from blog.errors import install_error_handlers
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


class Health(BaseModel):
    ok: bool
    database: str


def configure_logging() -> None:
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(settings.log_level)


def create_app() -> FastAPI:
    configure_logging()
    app = FastAPIOffline(
        title="blog",
        version="1.0.0",
        description=DESCRIPTION,
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
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(posts_router)
    app.include_router(post_comments_router)
    app.include_router(comments_router)

    @app.get(
        "/health",
        tags=["health"],
        response_model=Health,
        responses={503: {"model": Health, "description": "The database is unreachable"}},
    )
    def health(session: SessionDep) -> Health | JSONResponse:
        """Up, and able to run a query? Railway's health check calls this."""
        try:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except SQLAlchemyError:
            logger.warning("health check: database unreachable")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return Health(ok=True, database="ok")

    return app


app = create_app()
