"""OpenID Connect sign-in to the admin pages: per-org provider settings, sign-ins under
way, and admin sessions of a member (not only of an API key)

Revision ID: 0012_oidc
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_oidc"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_settings",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "oidc_pending",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    with op.batch_alter_table("oidc_pending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_pending_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.alter_column("key_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_admin_sessions_member_id"), ["member_id"])
        batch_op.create_foreign_key(
            "fk_admin_sessions_member_id", "members", ["member_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    op.execute("DELETE FROM admin_sessions WHERE key_id IS NULL")
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_admin_sessions_member_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_admin_sessions_member_id"))
        batch_op.drop_column("member_id")
        batch_op.alter_column("key_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("oidc_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_pending_expires_at"))
    op.drop_table("oidc_pending")
    op.drop_table("oidc_settings")
