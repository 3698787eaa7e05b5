"""Rate limits: how many logins and registrations one client may try, counted by `limits`.

Lesson: a password guesser is just a client that sends many logins. Each login attempt for an
account (found by username or email alike; an unknown name counts by its text) from one client
is counted; after `LOGIN_MAX_FAILURES` attempts without a success within `LOGIN_WINDOW_SECONDS`,
that client's logins to that account are a 429 `rate_limited` with `Retry-After` until the window
has passed, while other accounts and other clients carry on. A success forgets the count.
Registrations count per client (`REGISTER_MAX_PER_CLIENT` an hour), every attempt, as the route's
first dependency, and email changes count with them; posts and comments count per account
(`WRITE_MAX_PER_ACCOUNT` an hour). The counting is the `limits` library's
moving window, kept in Redis when `REDIS_URL` is set (so every replica sees the same counts) and
in this process otherwise; if Redis stops answering, counting carries on in the process rather
than letting every guess through or refusing every login.

The client is the address of the socket's peer, or the one a trusted proxy put in
`X-Forwarded-For` (uvicorn's `--forwarded-allow-ips`, which the start command in `railway.json`
sets for Railway's proxy).
"""

import logging
import math
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from blog.addresses import ClientAddress
from blog.config import settings
from blog.deps import CurrentUser
from blog.errors import RateLimited

logger = logging.getLogger(__name__)
Result = TypeVar("Result")


class Counters:
    """Moving-window counts in `storage` (Redis, or this process's memory); while the storage
    fails, counting carries on in this process instead."""

    def __init__(self, storage: Storage) -> None:
        self.shared = MovingWindowRateLimiter(storage)
        self.local = MovingWindowRateLimiter(MemoryStorage())

    def run(self, use: Callable[[MovingWindowRateLimiter], Result]) -> Result:
        """`use(limiter)` on the shared counts, or on this process's if their storage fails."""
        try:
            return use(self.shared)
        except StorageError as error:
            logger.warning("rate limit storage failed, counting in this process: %r", error)
            return use(self.local)


def counters_for(redis_url: str | None) -> Counters:
    """Counters kept in Redis (every replica sees them) or in this process."""
    if redis_url:
        redis_storage = storage_from_string(redis_url, wrap_exceptions=True)
        assert isinstance(redis_storage, Storage)  # a redis:// URL gives the synchronous kind
        return Counters(redis_storage)
    return Counters(MemoryStorage())


def get_counters(request: Request) -> Counters:
    """The app's counters, made when it starts (`lifespan` in `blog/main.py`): a new app, or a
    test's new client, starts counting from zero."""
    counters: Counters = request.app.state.rate_limit_counters
    return counters


RateLimitCounters = Annotated[Counters, Depends(get_counters)]


def login_limit() -> RateLimitItem:
    return RateLimitItemPerSecond(settings.login_max_failures, settings.login_window_seconds)


def refusal(counters: Counters, item: RateLimitItem, key: list[str], what: str) -> RateLimited:
    """The 429 for `key`, with `Retry-After`: when its oldest counted attempt leaves the window."""
    reset_at = counters.run(lambda limiter: limiter.get_window_stats(item, *key).reset_time)
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return RateLimited(f"Too many {what}; try again in {retry_after} s.", retry_after=retry_after)


def count_or_refuse(counters: Counters, item: RateLimitItem, key: list[str], what: str) -> None:
    """Count one attempt under `key`, or 429 ("Too many `what`") once `item`'s share is used."""
    if not counters.run(lambda limiter: limiter.hit(item, *key)):
        raise refusal(counters, item, key, what)


def refuse_when_used_up(counters: Counters, item: RateLimitItem, key: list[str], what: str) -> None:
    """429 once `key` has used `item`'s share, without counting this attempt: for limits that
    count only failures, which the caller counts with `count_or_refuse` once it knows."""
    if not counters.run(lambda limiter: limiter.test(item, *key)):
        raise refusal(counters, item, key, what)


def count_logins_from(counters: RateLimitCounters, client: ClientAddress) -> None:
    """Count a login from `client` to any account, or 429 if it has had its share: made-up
    names each have a count of their own, so a flood of them is counted here."""
    in_all = RateLimitItemPerSecond(settings.login_max_per_client, settings.login_window_seconds)
    count_or_refuse(counters, in_all, ["logins", client], "logins from this address")


def count_login_attempt(counters: Counters, account: str, client: str) -> None:
    """Count a login to `account` from `client`, or 429 if it has had its share of failures."""
    key = ["login", account, client]
    count_or_refuse(counters, login_limit(), key, "failed logins for this account")


def forget_login_attempts(counters: Counters, account: str, client: str) -> None:
    """A successful login: the failures before it no longer count."""
    counters.run(lambda limiter: limiter.clear(login_limit(), "login", account, client))


def count_registration(counters: RateLimitCounters, client: ClientAddress) -> None:
    """Count a registration, or an email change, from `client`, or 429 if it has had its share
    this hour: each tells whether an address is taken (409), and each sends an email."""
    per_hour = RateLimitItemPerHour(settings.register_max_per_client)
    count_or_refuse(
        counters, per_hour, ["register", client], "new accounts and emails from this address"
    )


def count_a_write(counters: RateLimitCounters, user: CurrentUser) -> None:
    """Count a new post or comment by `user`, or 429 once the account has had its share this
    hour."""
    per_hour = RateLimitItemPerHour(settings.write_max_per_account)
    count_or_refuse(counters, per_hour, ["write", str(user.id)], "posts and comments this hour")
