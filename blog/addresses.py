"""Client addresses: the one each per-client limit counts a client by.

Lesson: a limit per client is only as good as its idea of "one client". An IPv4 address is one
(or one network behind its router); an IPv6 machine is usually given a whole /64, 2^64 addresses
it may pick from at will, so counting IPv6 clients address by address would give each a fresh
count with every request. So an IPv6 client counts by its /64, and an IPv4 one on a dual-stack
socket (`::ffff:203.0.113.7`) by its IPv4 address. The socket caps, the server's connections per
address, the password-hash turns and the rate limits all count by this.
"""

import ipaddress
from typing import Annotated  # step 15

from fastapi import Depends, Request  # step 15


def address_of(host: str) -> str:
    """The address a client is counted by: its IPv4 address, or its IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an IP address (a Unix socket's path, or "testclient")
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)  # an IPv4 client on a dual-stack socket
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_address(request: Request) -> str:  # step 15
    return address_of(request.client.host) if request.client else "unknown"  # step 15


ClientAddress = Annotated[str, Depends(client_address)]  # step 15
