"""A sync whose plan is held: exit status 1 and the command that approves it; approving
applies it, re-planned within the approval when the directory moved on, or says it lapsed.
Through the CLI and the admin API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from rolebridge.cli import main
from scim_server.api.context import SESSION_FACTORY_KEY
from scim_server.app import create_app
from sync.credentials.apikeys import create_api_key
from sync.models import SavedPlan, Source
from sync.settings import Settings
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from tests.fakes.okta import FakeOkta
from tests.integration.pullsetup import roles

MAPPING = """
role_model: shareofmodel
rules:
  - group: "SOM Owners"
    org_role: owner
  - group: "SOM Viewers"
    org_role: viewer
policy:
  unmapped: remove
  max_removals: 1
"""
VIEWERS = [f"00v{i:02}" for i in range(1, 21)]  # twenty, so that two leaving is a 10% drop


def email(uid: str) -> str:
    return f"{uid}@acme.com"


@pytest.fixture
def okta(bare_okta: FakeOkta) -> FakeOkta:
    bare_okta.add_user("00u1", "ann@acme.com")
    for uid in [*VIEWERS, "00v21"]:
        bare_okta.add_user(uid, email(uid))
    bare_okta.add_group("00gOwners", "SOM Owners", ["00u1"])
    bare_okta.add_group("00gViewers", "SOM Viewers", list(VIEWERS))
    return bare_okta


@pytest.fixture
def env(engine: Engine, okta: FakeOkta) -> dict[str, str]:
    return {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RB_TEST_OKTA_TOKEN": okta.state.api_token,
    }


@pytest.fixture
def org_id(session_factory: sessionmaker[Session], okta: FakeOkta) -> int:
    with session_factory.begin() as s:
        org = create_org(s, "Acme", "shareofmodel")
        save_mapping(s, org.id, MAPPING)
        config = {"org_url": okta.url, "auth": "token", "max_user_drop": "100%"}
        s.add(
            Source(
                org_id=org.id,
                name="okta",
                kind="okta",
                config=config,
                secret="env:RB_TEST_OKTA_TOKEN",
            )
        )
        return org.id


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def held_sync(
    env: dict[str, str], okta: FakeOkta, org_id: int, factory: sessionmaker[Session]
) -> int:
    """Sync everyone in, then two viewers leave (over max_removals 1): the held plan's id."""
    first = cli(env, "sync", "--org", "Acme")
    assert first.exit_code == 0, first.output
    assert len(roles(factory, org_id)) == 21
    okta.state.members["00gViewers"] = VIEWERS[2:]
    held = cli(env, "sync", "--org", "Acme")
    assert held.exit_code == 1, held.output
    assert "okta: held" in held.output
    match = re.search(
        r"approve and apply it with: (rolebridge approve --org Acme (\d+))\n", held.output
    )
    assert match is not None, held.output
    assert len(roles(factory, org_id)) == 21
    return int(match.group(2))


def test_a_held_sync_exits_1_and_names_the_command_that_approves_and_applies_it(
    env: dict[str, str], okta: FakeOkta, org_id: int, session_factory: sessionmaker[Session]
) -> None:
    """The printed command, run as printed, applies the held plan in one step."""
    plan_id = held_sync(env, okta, org_id, session_factory)
    approved = cli(env, "approve", "--org", "Acme", str(plan_id))
    assert approved.exit_code == 0, approved.output
    assert f"approved and applied plan {plan_id}: 2 revoke_invite" in approved.output
    left = roles(session_factory, org_id)
    assert len(left) == 19 and email("00v01") not in left and email("00v02") not in left
    again = cli(env, "sync", "--org", "Acme")
    assert again.exit_code == 0 and "okta: empty" in again.output, again.output


def test_a_plan_approved_after_a_later_pull_applies_the_fresh_plan_within_the_approval(
    env: dict[str, str], okta: FakeOkta, org_id: int, session_factory: sessionmaker[Session]
) -> None:
    """A newcomer arrives and a pull re-plans (the held plan is replaced): approving the
    plan the admin reviewed applies the fresh one, which takes away nothing more."""
    plan_id = held_sync(env, okta, org_id, session_factory)
    okta.state.members["00gViewers"].append("00v21")
    replanned = cli(env, "sync", "--org", "Acme")
    assert replanned.exit_code == 1 and "okta: held" in replanned.output
    approved = cli(env, "approve", "--org", "Acme", str(plan_id))
    assert approved.exit_code == 0, approved.output
    assert "re-planned" in approved.output and "1 invite" in approved.output
    left = roles(session_factory, org_id)
    assert email("00v21") in left and email("00v01") not in left and len(left) == 20
    with session_factory() as s:
        waiting = s.scalars(select(SavedPlan).where(SavedPlan.status.in_(("held", "approved"))))
        assert list(waiting) == []


def test_an_approval_lapses_when_the_fresh_plan_takes_away_more(
    env: dict[str, str], okta: FakeOkta, org_id: int, session_factory: sessionmaker[Session]
) -> None:
    """A third viewer leaves before approval: nothing is applied, exit 1, and the fresh
    plan waits with the lapse as its reason and the command that approves it."""
    plan_id = held_sync(env, okta, org_id, session_factory)
    okta.state.members["00gViewers"].remove("00v03")
    cli(env, "sync", "--org", "Acme")
    approved = cli(env, "approve", "--org", "Acme", str(plan_id))
    assert approved.exit_code == 1, approved.output
    assert f"the approval of plan {plan_id} by cli lapsed" in approved.output
    assert "revoke_invite 00v03@acme.com" in approved.output
    fresh = re.search(r"to apply: rolebridge approve --org Acme (\d+)", approved.output)
    assert fresh is not None and int(fresh.group(1)) != plan_id
    assert len(roles(session_factory, org_id)) == 21
    final = cli(env, "approve", "--org", "Acme", fresh.group(1))
    assert final.exit_code == 0, final.output
    assert len(roles(session_factory, org_id)) == 18


@pytest.fixture
def api(session_factory: sessionmaker[Session], tmp_path: Path) -> FlaskClient:
    url = str(session_factory.kw["bind"].url.render_as_string(hide_password=False))
    app = create_app(Settings(database_url=url, instance_path=tmp_path, secret_key="k"))
    app.config["TESTING"] = True
    app.extensions[SESSION_FACTORY_KEY] = session_factory
    return app.test_client()


def test_the_api_approval_of_a_held_sync_plan_applies_it_or_answers_the_fresh_held_plan(
    env: dict[str, str],
    okta: FakeOkta,
    org_id: int,
    session_factory: sessionmaker[Session],
    api: FlaskClient,
) -> None:
    """POST .../approve answers the plan that now stands: applied, or held saying why."""
    with session_factory.begin() as s:
        _, key = create_api_key(s, org_id, "owner", ["owner"])
    auth = {"Authorization": f"Bearer {key}"}
    plan_id = held_sync(env, okta, org_id, session_factory)
    okta.state.members["00gViewers"].remove("00v03")
    cli(env, "sync", "--org", "Acme")
    shown = api.get(f"/api/v1/orgs/Acme/plans/{plan_id}", headers=auth)
    lapsed = api.post(
        f"/api/v1/orgs/Acme/plans/{plan_id}/approve",
        headers=auth,
        json={"fingerprint": shown.json["fingerprint"]},
    )
    assert lapsed.status_code == 200, lapsed.json
    assert lapsed.json["status"] == "held" and lapsed.json["id"] != plan_id
    assert "lapsed" in lapsed.json["plan"]["held"]["detail"]
    assert len(roles(session_factory, org_id)) == 21
    applied = api.post(
        f"/api/v1/orgs/Acme/plans/{lapsed.json['id']}/approve",
        headers=auth,
        json={"fingerprint": lapsed.json["fingerprint"]},
    )
    assert applied.status_code == 200 and applied.json["status"] == "applied", applied.json
    assert len(roles(session_factory, org_id)) == 18


def test_an_api_approval_that_re_plans_is_refused_when_the_fresh_plan_is_beyond_the_caller(
    env: dict[str, str],
    okta: FakeOkta,
    org_id: int,
    session_factory: sessionmaker[Session],
    api: FlaskClient,
) -> None:
    """An editor may approve two viewers leaving, but not the owner invite a later pull
    added to the re-planned plan: 403, and nothing at all is applied."""
    with session_factory.begin() as s:
        _, key = create_api_key(s, org_id, "editor", ["editor"])
    auth = {"Authorization": f"Bearer {key}"}
    plan_id = held_sync(env, okta, org_id, session_factory)
    okta.state.members["00gOwners"].append("00v21")
    cli(env, "sync", "--org", "Acme")
    shown = api.get(f"/api/v1/orgs/Acme/plans/{plan_id}", headers=auth)
    refused = api.post(
        f"/api/v1/orgs/Acme/plans/{plan_id}/approve",
        headers=auth,
        json={"fingerprint": shown.json["fingerprint"]},
    )
    assert refused.status_code == 403, refused.json
    left = roles(session_factory, org_id)
    assert len(left) == 21 and email("00v21") not in left
    with session_factory() as s:
        assert s.get(SavedPlan, plan_id).approved_by is None  # type: ignore[union-attr]
