"""self-serve: token and key expiry, who made them and when last used; "run now"
requests of sources; OpenID Connect sign-in settings and member sessions

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
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
    op.create_table(
        "oidc_settings",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "member_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("member_sessions") as batch_op:
        batch_op.create_index(batch_op.f("ix_member_sessions_member_id"), ["member_id"])


def downgrade() -> None:
    with op.batch_alter_table("member_sessions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_sessions_member_id"))
    op.drop_table("member_sessions")
    op.drop_table("oidc_settings")
    with op.batch_alter_table("sources") as batch_op:
        batch_op.drop_column("run_requested_by")
        batch_op.drop_column("run_requested_at")
    for table in ("api_keys", "scim_tokens"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("last_used_at")
            batch_op.drop_column("expires_at")
            batch_op.drop_column("created_by")
