"""directory_users.user_key and the indexes of a scoped gather

Revision ID: 0009
Revises: 0008

A plan of the users one SCIM write touched reads only those users, the groups above
them, their members and a few org-wide facts (docs/architecture.md section 3.1). Each of
those reads is an index lookup: directory users by key (``user_key``, the key of the
primary email else of the userName, filled here from ``emails`` and ``user_name``) and
by id, groups by id, members by org role and status (the holders of the top role), and
the audit log's losses by operation and time (the removal window).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from mappings.directory import identity_key

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEXES = (
    ("directory_users", "ix_dir_users_org_key", ["org_id", "user_key"]),
    ("directory_users", "ix_dir_users_org_ext", ["org_id", "ext_id"]),
    ("directory_groups", "ix_dir_groups_org_ext", ["org_id", "ext_id"]),
    ("members", "ix_members_org_role", ["org_id", "org_role", "status"]),
    ("audit_log", "ix_audit_org_op_at", ["org_id", "op", "at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("directory_users") as batch_op:
        batch_op.add_column(sa.Column("user_key", sa.String(length=320), nullable=True))
    users = sa.table(
        "directory_users",
        sa.column("id", sa.Integer),
        sa.column("user_name", sa.String),
        sa.column("emails", sa.JSON),
        sa.column("user_key", sa.String),
    )
    bind = op.get_bind()
    keys: list[dict[str, Any]] = []
    for row in bind.execute(sa.select(users.c.id, users.c.user_name, users.c.emails)):
        emails = row.emails if isinstance(row.emails, list) else []
        first = emails[0] if emails and isinstance(emails[0], str) else row.user_name
        keys.append({"row_id": row.id, "key": identity_key(first)})
    for start in range(0, len(keys), 5000):
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("row_id"))
            .values(user_key=sa.bindparam("key")),
            keys[start : start + 5000],
        )
    for table, name, columns in _INDEXES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(_INDEXES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("directory_users") as batch_op:
        batch_op.drop_column("user_key")
