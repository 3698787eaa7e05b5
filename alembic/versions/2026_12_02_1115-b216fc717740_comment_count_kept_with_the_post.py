"""comment count kept with the post

Revision ID: b216fc717740
Revises: cc24627267e5
Create Date: 2026-12-02 11:15:47.456417

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'b216fc717740'
down_revision: str | Sequence[str] | None = 'cc24627267e5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Autogenerate wrote the column; the rest is by hand. The triggers are written out here rather
# than imported from blog/comments/models.py: a migration is history and must not change when the
# app does. On SQLite, a later batch migration that rebuilds `comments` drops these triggers with
# the old table, and must create them again.
TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER comments_count_insert AFTER INSERT ON comments BEGIN "
        "UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id; END",
        "CREATE TRIGGER comments_count_delete AFTER DELETE ON comments BEGIN "
        "UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id; END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION count_comments() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF TG_OP = 'INSERT' THEN "
        "UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id; "
        "ELSE UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id; "
        "END IF; RETURN NULL; END $$",
        "CREATE TRIGGER comments_count AFTER INSERT OR DELETE ON comments "
        "FOR EACH ROW EXECUTE FUNCTION count_comments()",
    ),
}
DROP_TRIGGERS = {
    "sqlite": ("DROP TRIGGER comments_count_insert", "DROP TRIGGER comments_count_delete"),
    "postgresql": ("DROP TRIGGER comments_count ON comments", "DROP FUNCTION count_comments()"),
}


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment_count', sa.Integer(), server_default='0', nullable=False))
    # The comments that exist now, counted once; from here on the triggers keep the count.
    op.execute(
        "UPDATE posts SET comment_count = "
        "(SELECT count(*) FROM comments WHERE comments.post_id = posts.id)"
    )
    for statement in TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('comment_count')
