"""token version, ids never reused

Revision ID: 24cf82e04a84
Revises: f84fe745ef6f
Create Date: 2026-11-26 16:32:40.449737

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '24cf82e04a84'
down_revision: str | Sequence[str] | None = 'f84fe745ef6f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite gives a deleted row's id to the next row unless the table says AUTOINCREMENT, which
# only a rebuild of the table can add (batch mode: copy, drop, rename). PostgreSQL's sequences
# never reuse ids, so there the tables are left as they are.
TABLES_WITH_IDS = ("users", "posts", "comments")


def upgrade() -> None:
    # server_default: existing accounts start at version 0, like new ones.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES_WITH_IDS:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_version')
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES_WITH_IDS:
            with op.batch_alter_table(table, recreate="always"):
                pass
