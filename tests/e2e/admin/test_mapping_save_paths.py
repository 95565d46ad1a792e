"""Saving a mapping from the admin page, the admin API and the CLI is one use case: each
path writes the same audit entry."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.models import AuditEntry
from tests.e2e.admin.conftest import IF_V1, MAPPING, Seeded, csrf_on, sign_in


def _save_from_page(client: FlaskClient, key: str) -> None:
    sign_in(client, key)
    token = csrf_on(client, "/admin/mapping")
    form = {"document": MAPPING, "action": "save", "csrf_token": token}
    assert client.post("/admin/mapping", data=form).status_code == 303


def _audit(factory: sessionmaker[Session]) -> list[tuple[str, str, object]]:
    with factory() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(r.op, r.user, r.detail) for r in rows if r.op not in ("sign_in", "sign_out")]


def test_page_api_and_cli_saves_write_the_same_audit_entry(
    client: FlaskClient,
    acme: Seeded,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    cli: CliRunner,
) -> None:
    """Versions 2, 3 and 4 each get one save_mapping entry whose details are the version."""
    _save_from_page(client, acme.keys["owner"])
    api = client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("owner") | {"If-Match": '"v2"'},
        json={"document": MAPPING},
    )
    assert api.status_code == 201 and api.json == {"version": 3}
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    args = ["mapping", "set", "--org", "acme", str(tmp_path / "mapping.yaml"), "--no-reconcile"]
    result = cli.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and "saved mapping version 4 for acme" in result.output
    assert _audit(session_factory) == [
        ("save_mapping", "", {"version": 2}),
        ("save_mapping", "", {"version": 3}),
        ("save_mapping", "", {"version": 4}),
    ]


def test_a_refused_api_save_writes_no_version_and_no_audit(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """A manager's key saving an owner mapping: 403 naming policy.acting_role, nothing written."""
    r = client.put(
        "/api/v1/orgs/acme/mapping",
        headers=acme.auth("manager") | IF_V1,
        json={"document": MAPPING},
    )
    assert r.status_code == 403 and r.json is not None
    assert r.json["field"] == "policy.acting_role"
    assert _audit(session_factory) == []
