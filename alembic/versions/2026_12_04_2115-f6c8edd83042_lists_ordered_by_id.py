"""lists ordered by id

Revision ID: f6c8edd83042
Revises: b216fc717740
Create Date: 2026-12-04 21:15:00.000000

"""

from collections.abc import Sequence

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'f6c8edd83042'
down_revision: str | Sequence[str] | None = 'b216fc717740'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lists now order by id, which grows with time and is never reused, so that "the posts
# before this one" still means something once that post is deleted. Posts need an index for one
# author's list only (the primary key serves the whole list); comments one per post. On
# PostgreSQL each index is built CONCURRENTLY, outside a transaction, so writes go on meanwhile.


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            'ix_posts_author_id_id', 'posts', ['author_id', 'id'], postgresql_concurrently=True
        )
        op.create_index(
            'ix_comments_post_id_id', 'comments', ['post_id', 'id'], postgresql_concurrently=True
        )
        op.drop_index('ix_posts_author_id_created_at_id', 'posts', postgresql_concurrently=True)
        op.drop_index('ix_posts_created_at_id', 'posts', postgresql_concurrently=True)
        op.drop_index(
            'ix_comments_post_id_created_at_id', 'comments', postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            'ix_comments_post_id_created_at_id',
            'comments',
            ['post_id', 'created_at', 'id'],
            postgresql_concurrently=True,
        )
        op.create_index(
            'ix_posts_created_at_id', 'posts', ['created_at', 'id'], postgresql_concurrently=True
        )
        op.create_index(
            'ix_posts_author_id_created_at_id',
            'posts',
            ['author_id', 'created_at', 'id'],
            postgresql_concurrently=True,
        )
        op.drop_index('ix_comments_post_id_id', 'comments', postgresql_concurrently=True)
        op.drop_index('ix_posts_author_id_id', 'posts', postgresql_concurrently=True)
