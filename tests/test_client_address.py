"""Who the client is, behind Railway's proxy: the address the proxy saw, never one the client
wrote. The login and registration limits count per client, so a client that could name itself
in `X-Forwarded-For` would get a fresh count with every request.

uvicorn reads `X-Forwarded-For` from the right, skipping the proxies it trusts; with
`--forwarded-allow-ips "*"` it would take the left-most entry instead, which the client writes.
The start command (`railway.json`) trusts the private networks a platform's proxy connects from,
and nothing else.
"""

import re

import anyio
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tests.servers import railway_deploy


def trusted_proxies() -> str:
    found = re.search(r'--forwarded-allow-ips "([^"]+)"', railway_deploy()["startCommand"])
    assert found is not None, "the start command must say which proxies it trusts"
    return found.group(1)


def client_seen(peer: str, forwarded_for: str) -> str:
    """The client address the app sees for a request from `peer` with that header."""
    seen: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        client = scope["client"]
        assert isinstance(client, tuple)
        seen.append(client[0])

    middleware = ProxyHeadersMiddleware(app, trusted_hosts=trusted_proxies())  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", forwarded_for.encode())],
    }
    anyio.run(middleware, scope, None, None)  # type: ignore[arg-type]
    return seen[0]


def test_the_procfile_does_not_trust_every_address() -> None:
    assert trusted_proxies() != "*"


@pytest.mark.parametrize("proxy", ["10.12.0.7", "100.64.3.9", "fd12:3456::1"])
def test_the_client_is_the_address_the_proxy_appended(proxy: str) -> None:
    # The client wrote "6.6.6.6"; the proxy appended what it saw, 203.0.113.7.
    assert client_seen(proxy, "6.6.6.6, 203.0.113.7") == "203.0.113.7"


def test_a_client_that_reaches_the_app_directly_cannot_name_itself() -> None:
    assert client_seen("203.0.113.50", "6.6.6.6") == "203.0.113.50"
