"""plans.replaced_by: the plan made in a stale plan's place

Revision ID: 0011
Revises: 0009

A waiting or approved plan whose inputs moved on is re-planned at once; the stale plan
names the fresh one, so nothing it would have done is left without a plan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch_op:
        batch_op.add_column(sa.Column("replaced_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch_op:
        batch_op.drop_column("replaced_by")
