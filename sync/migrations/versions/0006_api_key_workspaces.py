"""api_key_workspaces: the workspace roles an admin API key carries

Revision ID: 0006
Revises: 0005

A key may carry a role in named workspaces (a workspace manager's key): one row per
workspace, deleted with the key or the workspace.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_workspaces",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id", "workspace_id"),
    )
    op.create_index(
        "ix_api_key_workspaces_workspace_id", "api_key_workspaces", ["workspace_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_api_key_workspaces_workspace_id", table_name="api_key_workspaces")
    op.drop_table("api_key_workspaces")
