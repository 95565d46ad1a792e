"""unique userName and displayName keys of SCIM-pushed users and groups

Revision ID: 0003
Revises: 0002

First every comparison key (``user_name_key``, ``email_key``, ``display_name_key``) is
recomputed with the one identity key (NFKC, casefold, trim): earlier rows were keyed with
``lower()`` or ``casefold()`` alone, which differ only for non-ASCII text or padding.

``scim_key`` is filled from ``user_name_key`` / ``display_name_key`` on the rows of each
org's ``scim`` source; pulled rows keep NULL. Where earlier concurrent creates left several
SCIM rows with one key, the oldest keeps the key and the others stay NULL (they remain
visible, and a PUT or PATCH of one of them answers 409 until it is renamed or deleted);
each such row is reported in the migration's log by org and id.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

from mappings.directory import identity_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_log = logging.getLogger("alembic.runtime.migration")

_TABLES = {
    "directory_users": ("user_name_key", 320, "uq_dir_users_source_scim_key"),
    "directory_groups": ("display_name_key", 400, "uq_dir_groups_source_scim_key"),
}


_REKEY = {
    "directory_users": (("user_name", "user_name_key"), ("emails", "email_key")),
    "directory_groups": (("display_name", "display_name_key"),),
}


def upgrade() -> None:
    for table, pairs in _REKEY.items():
        _rekey(table, pairs)
    for table, (key, length, index) in _TABLES.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("scim_key", sa.String(length=length), nullable=True))
        _fill(table, key)
        op.create_index(index, table, ["source_id", "scim_key"], unique=True)


def downgrade() -> None:
    for table, (_, _, index) in _TABLES.items():
        op.drop_index(index, table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("scim_key")


def _rekey(name: str, pairs: tuple[tuple[str, str], ...]) -> None:
    """Recompute each key column from its source column, writing only the rows that change."""
    columns: list[sa.ColumnClause[Any]] = [sa.column("id", sa.Integer)]
    for source, key in pairs:
        kind: Any = sa.JSON if source == "emails" else sa.String
        columns += [sa.column(source, kind), sa.column(key, sa.String)]
    table = sa.table(name, *columns)
    bind = op.get_bind()
    rows = bind.execute(sa.select(table)).mappings().all()
    for source, key in pairs:
        changed = []
        for row in rows:
            raw = row[source]
            if source == "emails":
                raw = raw[0] if isinstance(raw, list) and raw else None
            new = identity_key(raw) if isinstance(raw, str) else None
            if new != row[key]:
                changed.append({"row_id": row["id"], "new_key": new})
        if changed:
            statement = (
                sa.update(table)
                .where(table.c.id == sa.bindparam("row_id"))
                .values({key: sa.bindparam("new_key")})
            )
            bind.execute(statement, changed)


def _fill(name: str, key: str) -> None:
    """Key the oldest SCIM row of each (source, key); report the younger duplicates."""
    table = sa.table(
        name,
        sa.column("id", sa.Integer),
        sa.column("org_id", sa.Integer),
        sa.column("source_id", sa.Integer),
        sa.column("ext_id", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column(key, sa.String),
        sa.column("scim_key", sa.String),
    )
    sources = sa.table("sources", sa.column("id", sa.Integer), sa.column("kind", sa.String))
    pushed = table.c.source_id.in_(sa.select(sources.c.id).where(sources.c.kind == "scim"))
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(table.c.source_id, table.c[key]),
            order_by=(table.c.created_at, table.c.id),
        )
        .label("rank")
    )
    ranked = sa.select(table.c.id, rank).where(pushed).subquery()
    oldest = sa.select(ranked.c.id).where(ranked.c.rank == 1)
    bind = op.get_bind()
    bind.execute(sa.update(table).where(table.c.id.in_(oldest)).values(scim_key=table.c[key]))
    left = bind.execute(
        sa.select(table.c.org_id, table.c.ext_id)
        .where(pushed, table.c.scim_key.is_(None))
        .order_by(table.c.org_id, table.c.id)
    ).all()
    for org_id, ext_id in left:
        _log.warning(
            "%s: org %s id %s repeats the %s of an older row; it keeps no scim_key",
            name,
            org_id,
            ext_id,
            "userName" if name == "directory_users" else "displayName",
        )
