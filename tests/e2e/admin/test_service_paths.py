"""Creating a workspace and approving a plan are one use case each, whatever the path:
the admin API and the CLI write the same audit entry (docs/architecture.md section 2.3)."""

from __future__ import annotations

from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from sync.models import AuditEntry
from tests.e2e.admin.conftest import MAPPING, Seeded


def _audit(factory: sessionmaker[Session], op: str) -> list[tuple[str, object]]:
    with factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.op == op).order_by(AuditEntry.id))
        return [(r.actor.split(":")[0], r.detail) for r in rows]


def _run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def test_a_workspace_made_by_the_api_or_the_cli_is_audited_alike(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session], cli: CliRunner
) -> None:
    """One create_workspace entry each, naming the workspace and its credits."""
    r = client.post("/api/v1/orgs/acme/workspaces", headers=acme.auth("owner"), json={"name": "a"})
    assert r.status_code == 201
    made = _run(cli, "workspace", "create", "--org", "acme", "b")
    assert made.exit_code == 0 and "created workspace b in acme" in made.output
    assert _audit(session_factory, "create_workspace") == [
        ("apikey", {"op": "create_workspace", "workspace": "a", "credits": 0}),
        ("cli", {"op": "create_workspace", "workspace": "b", "credits": 0}),
    ]


def test_a_member_key_may_not_create_a_workspace_and_nothing_is_written(
    client: FlaskClient, acme: Seeded, session_factory: sessionmaker[Session]
) -> None:
    """403 from the service's authority check; no workspace, no entry."""
    r = client.post("/api/v1/orgs/acme/workspaces", headers=acme.auth("member"), json={"name": "a"})
    assert r.status_code == 403
    assert client.get("/api/v1/orgs/acme/workspaces", headers=acme.auth("owner")).json == {
        "workspaces": []
    }
    assert _audit(session_factory, "create_workspace") == []


def test_an_approval_by_the_api_or_the_cli_is_audited_alike(
    client: FlaskClient,
    acme: Seeded,
    session_factory: sessionmaker[Session],
    cli: CliRunner,
) -> None:
    """Under ``apply: review`` a plan waits; approving it (which applies it) from either
    path writes one approve_plan entry naming the plan and its fingerprint."""
    owner = acme.auth("owner")
    review = MAPPING + "  apply: review\n"
    saved = client.put(
        "/api/v1/orgs/acme/mapping", headers=owner | {"If-Match": "*"}, json={"document": review}
    )
    assert saved.status_code == 201, saved.json
    first = client.post("/api/v1/orgs/acme/plans", headers=owner, json={}).json
    assert first["status"] == "pending"
    body = {"fingerprint": first["fingerprint"]}
    approved = client.post(
        f"/api/v1/orgs/acme/plans/{first['id']}/approve", headers=owner, json=body
    )
    assert approved.status_code == 200 and approved.json["status"] == "applied"
    second = client.post("/api/v1/orgs/acme/plans", headers=owner, json={}).json
    assert second["status"] == "pending" and second["id"] != first["id"]
    done = _run(cli, "approve", "--org", "acme", str(second["id"]))
    assert done.exit_code == 0, done.output
    assert _audit(session_factory, "approve_plan") == [
        (
            "apikey",
            {"op": "approve_plan", "plan": first["id"], "fingerprint": first["fingerprint"]},
        ),
        ("cli", {"op": "approve_plan", "plan": second["id"], "fingerprint": second["fingerprint"]}),
    ]


def test_a_workspace_made_through_the_api_or_the_cli_is_an_event(
    client: FlaskClient, acme: Seeded, cli: CliRunner
) -> None:
    """Creating a workspace by hand gives the same ``workspace.created`` event as a plan's
    operation, in the org's feed, whatever the path."""
    owner = acme.auth("owner")
    made = client.post(
        "/api/v1/orgs/acme/workspaces", headers=owner, json={"name": "by-api", "credits": 0}
    )
    assert made.status_code == 201, made.json
    done = _run(cli, "workspace", "create", "--org", "acme", "by-cli")
    assert done.exit_code == 0, done.output
    feed = client.get("/api/v1/orgs/acme/events?types=workspace.created", headers=owner)
    assert feed.status_code == 200, feed.json
    assert [e["workspace"] for e in feed.json["events"]][-2:] == ["by-api", "by-cli"]
