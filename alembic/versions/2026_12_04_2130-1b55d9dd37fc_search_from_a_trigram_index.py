"""search from a trigram index

Revision ID: 1b55d9dd37fc
Revises: f6c8edd83042
Create Date: 2026-12-04 21:30:00.000000

"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError


# revision identifiers, used by Alembic.
revision: str = '1b55d9dd37fc'
down_revision: str | Sequence[str] | None = 'f6c8edd83042'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

# PostgreSQL only. `q` searches the title and the body, in any case (`ILIKE '%text%'`); a GIN
# index of pg_trgm, the extension that indexes text by its runs of three characters, answers
# that without reading every post. Each is built CONCURRENTLY, outside a transaction, so writes
# go on meanwhile. pg_trgm is a trusted extension: whoever may CREATE in the database may add
# it (Railway's PostgreSQL allows it). Where it may not be added, this says so and goes on:
# search still works, by reading every post. No model describes these indexes, which SQLite
# cannot have; `alembic/env.py` leaves them out of its comparison.
INDEXES = {'ix_posts_title_trgm': 'title', 'ix_posts_body_trgm': 'body'}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    with op.get_context().autocommit_block():
        try:
            op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        except DBAPIError as error:
            logger.warning(
                'pg_trgm could not be added (%s): search will read every post',
                str(error.orig).strip().splitlines()[0],
            )
            return
        for name, column in INDEXES.items():
            op.create_index(
                name,
                'posts',
                [column],
                postgresql_using='gin',
                postgresql_ops={column: 'gin_trgm_ops'},
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.drop_index(name, 'posts', postgresql_concurrently=True, if_exists=True)
    # The extension stays: something else in the database may use it.
