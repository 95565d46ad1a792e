"""The store's scoped gather reads what the pure scoping selects, and plans alike."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from mappings import PRESETS, Directory, PlatformState, RoleMapping, RoleModel
from mappings.rules import workspaces_at_creation
from mappings.scope import scoped
from sync import mirror
from sync.mirror import load_directory
from sync.models import Member, Workspace, WorkspaceRole
from sync.reconcile import gather, may_lose, plan_for, with_budget
from sync.scoped import load_scoped
from sync.store.mappings import save_mapping
from sync.store.orgs import create_org
from sync.store.platform import load_state
from tests.unit.builders import NOW
from tests.unit.test_plan_properties import EMAILS, mappings, states
from tests.unit.test_scope_properties import directories

_ORGS = itertools.count()


@st.composite
def orgs(draw: st.DrawFn) -> tuple[Directory, Directory, PlatformState, RoleMapping, RoleModel]:
    """A directory, a second source reusing some of its ids, a state, a mapping."""
    model = PRESETS[draw(st.sampled_from(sorted(PRESETS)))]
    d = draw(directories())
    again = [
        replace(u, emails=(draw(st.sampled_from(EMAILS)),), active=not u.active)
        for u in d.users
        if draw(st.booleans())
    ]
    second = Directory(users=tuple(again), groups=d.groups[:1])
    return d, second, draw(states(model)), draw(mappings(model)), model


def _plan_of(model: RoleModel, plan: str) -> str:
    """The drawn plan where the preset declares it and it makes no workspace of its own
    (the drawn workspaces are the org's), else enterprise."""
    if plan in model.plans and not workspaces_at_creation(model, plan):
        return plan
    return "enterprise"


def _store(
    session_factory: sessionmaker[Session],
    model: RoleModel,
    mapping: RoleMapping,
    state: PlatformState,
    first: Directory,
    second: Directory,
) -> int:
    with session_factory.begin() as s:
        org = create_org(
            s,
            f"org {next(_ORGS)}",
            model.name,
            plan=_plan_of(model, state.organisation.plan),
            credits=state.organisation.credits,
        )
        save_mapping(s, org.id, json.dumps(mapping.to_dict()), created_by="test")
        names = {w.name: w.credits for w in state.workspaces}
        names.update({ws: 0 for m in state.members for ws in m.workspaces if ws not in names})
        ws_ids = {}
        for name, credits in names.items():
            row = Workspace(org_id=org.id, name=name, credits=credits)
            s.add(row)
            s.flush()
            ws_ids[name] = row.id
        for m in state.members:
            member = Member(
                org_id=org.id,
                email=m.key,
                org_role=m.org_role,
                status=m.status,
                origin=m.origin,
                idp_id=m.idp_id,
                invited_at=m.invited_at,
            )
            s.add(member)
            s.flush()
            for ws, roles in m.workspaces.items():
                s.add_all(
                    WorkspaceRole(member_id=member.id, workspace_id=ws_ids[ws], role=r)
                    for r in roles
                )
        for name, directory in (("okta", first), ("graph", second)):
            source = mirror.ensure_source(s, org.id, name, name)
            mirror.replace_snapshot(s, org.id, source.id, directory)
        return org.id


def _decisions(plan: Any) -> dict[str, Any]:
    body = plan.to_dict()
    return {k: body[k] for k in ("operations", "skipped", "held", "summary")}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(orgs(), st.data())
def test_the_scoped_gather_reads_the_pure_selection_and_plans_as_the_whole_org(
    session_factory: sessionmaker[Session], org: Any, data: st.DataObject
) -> None:
    first, second, state, mapping, model = org
    org_id = _store(session_factory, model, mapping, state, first, second)
    ids = [u.id for u in first.users] + ["d9"]
    touched = data.draw(st.lists(st.sampled_from(ids + EMAILS[:2]), min_size=1, max_size=3))
    with session_factory() as s:
        whole_dir, whole_state = load_directory(s, org_id), load_state(s, org_id)
        got_dir, got_state = load_scoped(s, org_id, touched, model.top_org_role)
        want_dir, want_state = scoped(whole_dir, whole_state, touched, model.top_org_role)
        assert got_dir == want_dir
        assert got_state == want_state
        whole = gather(s, org_id, now=NOW)
        part = gather(s, org_id, now=NOW, users=touched)
        # a SCIM write's reconcile reads the budget's inputs only for a plan with losses
        lazy = gather(s, org_id, now=NOW, users=touched, budget=False)
        lazy_plan = plan_for(lazy, NOW, touched)
        if not lazy.budget_read and may_lose(lazy_plan, model):
            lazy_plan = plan_for(with_budget(s, org_id, lazy, NOW), NOW, touched)
    assert part.scoped == (mapping.policy.apply != "review")
    wanted = _decisions(plan_for(whole, NOW, touched))
    assert _decisions(plan_for(part, NOW, touched)) == wanted
    assert _decisions(lazy_plan) == wanted
