"""Field rules shared by the models: text that is trimmed, never blank and never holds NUL.

Lesson: a field type is an `Annotated` alias, as in the SQLModel tutorial: the type, then its
constraints, then what runs after them. `Title = Annotated[str, StringConstraints(min_length=1,
max_length=200), AfterValidator(trimmed), TRIMMED_TEXT_SCHEMA]` reads "a string of 1 to 200
characters, stored without the spaces at its ends". The limits count the characters as sent;
`trimmed` then refuses text with nothing visible in it, or with the NUL character (PostgreSQL
cannot store it), and strips the spaces at either end.

What counts as a space is spelled out (`SPACES`): Python's `str.strip()` and the `\\s` of OpenAPI's
regular expressions (JavaScript's) disagree on a few characters (U+001E, U+FEFF...), and the schema
must say exactly what the app does. The schema carries a short pattern, "no NUL, and at least one
character that is not a space", so Swagger UI and tools that test the API against its schema know
which text is valid.
"""

from typing import TypeVar

from pydantic import Field

# JavaScript's `\s`, and so the `\s` of the patterns in the OpenAPI document.
SPACES = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# For query and form fields: any text but the NUL character.
NO_NUL_CHARACTER = r"^[^\x00]*$"

TRIMMED_TEXT_SCHEMA = Field(
    json_schema_extra={
        "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
        "description": "Stored without the spaces at its ends; not blank.",
    }
)
OPTIONAL_TEXT_SCHEMA = Field(
    json_schema_extra={
        "pattern": r"^[^\u0000]*$",
        "description": "Stored without the spaces at its ends; may be empty.",
    }
)


def without_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain the NUL character")
    return text.strip(SPACES)


def trimmed(text: str) -> str:
    """`text` without the spaces at its ends; refused if nothing visible is left."""
    text = without_nul(text)
    if not text:
        raise ValueError("must contain a visible character, not only spaces")
    return text


def trimmed_or_empty(text: str) -> str:
    """`text` without the spaces at its ends, which may leave nothing (a bio may be empty)."""
    return without_nul(text)


ValueT = TypeVar("ValueT")


def reject_null(value: ValueT | None) -> ValueT:
    """For PATCH models: a field may be left out, but `null` for a NOT NULL column is a 422, not
    a database error."""
    if value is None:
        raise ValueError("may be left out, but not null")
    return value
