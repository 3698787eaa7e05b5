"""How strong is a secret? An estimate of its entropy, for production's `JWT_SECRET` check.

Lesson: a secret's length says little: 32 times `a` is 32 bytes and no secret at all. What counts is
how many guesses an attacker needs, so the estimate cuts a repeated pattern to one copy
(`passwordpassword` is `password`), then counts each of its characters as a choice among the
distinct characters it uses: `length * log2(distinct)` bits. A secret from `openssl rand -hex 32`
is about 256 bits, `secrets.token_urlsafe(32)` about 200, a Railway-generated secret of 32
letters and digits about 150; a repeat, a short pattern or a common password is far below 128.
It is a floor for mistakes, not a proof of randomness: a long keyboard walk would pass. zxcvbn's
estimate counts a random character as one of ten, so it would refuse Railway's generated secrets
(docs/decisions.md).
"""

import math

MIN_SECRET_BITS = 128
WEAK_SECRET = (
    "JWT_SECRET is too weak for production (at least 128 bits of entropy): generate one with "
    'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
)


def one_copy(text: str) -> str:
    """The shortest start of `text` that `text` repeats (`abab` → `ab`), or `text` itself."""
    for size in range(1, len(text) // 2 + 1):
        unit = text[:size]
        if (unit * (len(text) // size + 1))[: len(text)] == text:
            return unit
    return text


def entropy_bits(secret: str) -> float:
    """About how many bits an attacker must guess to find `secret`."""
    unit = one_copy(secret)
    return len(unit) * math.log2(len(set(unit))) if unit else 0.0
