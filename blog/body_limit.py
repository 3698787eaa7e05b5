"""Request size: a body over `MAX_BODY_BYTES` is refused (413) before anything else reads it.

Lesson: without a limit, one unauthenticated request with a 100 MB body is read, held in memory
and parsed as JSON before the route can even say 401. This raw ASGI middleware sits in front of
everything (authentication included). A body that announces its size (`Content-Length`) is
refused on that number without a byte of it being read; the server (uvicorn) already makes sure
such a body is no longer than announced. A chunked body, whose size nobody knows in advance, is
counted as it arrives and refused as soon as it passes the limit, so the server never holds more
than the limit of one body. `Connection: close` on the refusal stops the client from streaming the
rest of a huge body into a connection that would only throw it away.

Why not FastAPI's own `max_body_size`: it only counts what the app reads, so a route that reads no
body still runs before the 413 replaces its answer (a `DELETE` with a 100 MB `Content-Length`
deletes, then says 413), and its 413 is plain text, not the API's error shape. Both are pinned in
`tests/test_body_limit.py`.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.errors import PayloadTooLarge, error_json


def body_size(scope: Scope) -> int | None:
    """The body's size as announced by `Content-Length`; None for a chunked body, whose size
    is not known until it has all arrived; 0 for a request with neither (no body)."""
    headers = dict(scope["headers"])
    # Chunked wins over a `Content-Length` beside it, as the server reads the body (RFC 9112).
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return None
    return int(headers.get(b"content-length", 0))  # the server refused a malformed one (400)


class BodySizeLimit:
    """ASGI middleware: 413 `payload_too_large` for a request body over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = body_size(scope)
        if size is not None:
            if size > self.max_bytes:
                await self.refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        await self.read_chunked(scope, receive, send)

    async def read_chunked(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a body of unknown size up to the limit, then hand it to the app in one piece."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before it finished sending: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self.refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        delivered = False

        async def receive_read_body() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # what comes after the body: a disconnect
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, receive_read_body, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        too_large = PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes.")
        await error_json(too_large)(scope, receive, send)
