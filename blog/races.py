"""Races: a write that loses to a simultaneous delete is a 404 or a 401, never a 500.

Lesson: between a route loading a row and writing it, another request may delete that row, or the
signed-in account with everything it wrote. The database notices when the write arrives: an UPDATE
finds no row (`StaleDataError`), an INSERT's foreign key points at nothing (`IntegrityError`), a
DELETE deletes nothing. Then nothing is kept (rollback), and the answer says what is gone: the
account (401 `invalid_token`, as for any token of a deleted account) or the row (`gone`, a 404).
Routes write through `commit_or_gone` and `delete_or_gone`, so the rule lives here only.
"""

from typing import NoReturn

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel, col, delete

from blog.errors import DomainError, InvalidToken
from blog.users.models import User


def lost_to_a_delete(session: Session, user_id: int | None, gone: DomainError) -> NoReturn:
    session.rollback()
    if session.get(User, user_id) is None:
        raise InvalidToken("The account was deleted.")
    raise gone


def commit_or_gone(session: Session, user: User, gone: DomainError) -> None:
    """Commit; if what the writes touch was deleted meanwhile, 401 or `gone` instead."""
    user_id = user.id  # read now: a failed commit expires every loaded object
    try:
        session.commit()
    except (IntegrityError, StaleDataError):
        lost_to_a_delete(session, user_id, gone)


def delete_or_gone(session: Session, user: User, row: SQLModel, gone: DomainError) -> None:
    """Delete `row` and commit; 401 or `gone` if another request deleted it first. A DELETE
    statement, because it says how many rows it deleted (`session.delete` only warns)."""
    table = type(row)
    deleted = session.exec(delete(table).where(col(table.id) == row.id))  # type: ignore[attr-defined]
    if deleted.rowcount == 0:
        lost_to_a_delete(session, user.id, gone)
    session.commit()
