"""Security headers: what every response tells the browser about how to treat it.

Lesson: an API is read by browsers too, and a few response headers close whole classes of attack.
`X-Content-Type-Options: nosniff` stops a browser from guessing that a JSON error is HTML (and
running it); `X-Frame-Options: DENY` stops another site from framing the docs to trick clicks;
`Cache-Control: no-store` keeps tokens and private account data (`/auth/*`, `/users/me*`) out of
browser and proxy caches (RFC 6749 §5.1); the docs pages get a Content-Security-Policy that lets
them load only what this app serves. It is a raw ASGI middleware rather than
`@app.middleware("http")`, which would cost every request an extra task and a copy of the body.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
NO_STORE = {"Cache-Control": "no-store"}

# The docs pages may load scripts, styles, images and fonts from this app only. ReDoc's bundle
# always shows a logo from its makers' CDN; this policy stops the browser from fetching it, so
# the docs work, and stay quiet, on a machine without internet.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; connect-src 'self'"
)
DOCS_PAGES = ("/docs", "/redoc")


def carries_secrets(path: str) -> bool:
    """Responses here hold a token or a private account: never to be cached."""
    return path.startswith("/auth/") or path == "/users/me" or path.startswith("/users/me/")


def security_headers(path: str) -> dict[str, str]:
    """The headers a response to `path` gets (the 500 handler, outside the middleware, too)."""
    headers = dict(EVERY_RESPONSE)
    if carries_secrets(path):
        headers.update(NO_STORE)
    if path in DOCS_PAGES:
        headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    return headers


class SecurityHeaders:
    """ASGI middleware: adds `security_headers(path)` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
