"""self-serve: token and key expiry, who made them and when last used; "run now"
requests of sources

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    for table in ("scim_tokens", "api_keys"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("created_by", sa.String(200), nullable=False, server_default="")
            )
            batch_op.add_column(sa.Column("expires_at", _WHEN, nullable=True))
            batch_op.add_column(sa.Column("last_used_at", _WHEN, nullable=True))
    with op.batch_alter_table("sources") as batch_op:
        batch_op.add_column(sa.Column("run_requested_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("run_requested_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch_op:
        batch_op.drop_column("run_requested_by")
        batch_op.drop_column("run_requested_at")
    for table in ("api_keys", "scim_tokens"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("last_used_at")
            batch_op.drop_column("expires_at")
            batch_op.drop_column("created_by")
