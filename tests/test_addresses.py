"""Who counts as one client (`blog/addresses.py`): an IPv4 address, or an IPv6 /64, for every
per-client limit (the tests of each limit check they use it)."""

import pytest

from blog.addresses import address_of


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # the same machine, another address
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # another machine
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 on a dual-stack socket
        ("testclient", "testclient"),  # not an IP address: itself
    ],
)
def test_a_client_is_counted_by_its_address_or_its_ipv6_network(host: str, counted_as: str) -> None:
    assert address_of(host) == counted_as
