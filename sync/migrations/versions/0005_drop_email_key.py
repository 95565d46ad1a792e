"""drop directory_users.email_key

Revision ID: 0005
Revises: 0004

The primary email's key was written on every user row and never read: the planner keys a
member by ``DirectoryUser.key``, computed from the ``emails`` list the mirror reads back.
A downgrade adds the column again and fills it from ``emails``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from mappings.directory import identity_key

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEX = "ix_dir_users_org_email"


def upgrade() -> None:
    with op.batch_alter_table("directory_users") as batch_op:
        batch_op.drop_index(_INDEX)
        batch_op.drop_column("email_key")


def downgrade() -> None:
    with op.batch_alter_table("directory_users") as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
        batch_op.create_index(_INDEX, ["org_id", "email_key"], unique=False)
    users = sa.table(
        "directory_users",
        sa.column("id", sa.Integer),
        sa.column("emails", sa.JSON),
        sa.column("email_key", sa.String),
    )
    bind = op.get_bind()
    keys: list[dict[str, Any]] = [
        {"row_id": row.id, "key": identity_key(row.emails[0])}
        for row in bind.execute(sa.select(users.c.id, users.c.emails))
        if isinstance(row.emails, list) and row.emails and isinstance(row.emails[0], str)
    ]
    if keys:
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("row_id"))
            .values(email_key=sa.bindparam("key")),
            keys,
        )
