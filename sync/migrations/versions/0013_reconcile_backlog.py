"""reconcile_backlog: the users of SCIM writes that found their org's lock taken

Revision ID: 0013_backlog
Revises: 0012_oidc

A write that waited for its org's lock commits its mirror change and queues its users;
the next reconcile of the backlog plans every queued user in one pass.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_backlog"
down_revision = "0012_oidc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_backlog",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("idp_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "idp_id"),
    )


def downgrade() -> None:
    op.drop_table("reconcile_backlog")
