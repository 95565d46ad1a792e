"""Orgs, workspaces and manual members, with the presets' plan and credit rules."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.errors import InputError, RoleModelError
from sync.errors import Conflict, LimitError, NotFound
from sync.services.members import invite_member
from sync.store.orgs import create_org, create_workspace, get_org
from sync.store.platform import load_state


def test_an_org_gets_its_preset_plan_and_credits(session_factory: sessionmaker[Session]) -> None:
    """An org is created on a preset; its name is unique and the preset must exist."""
    with session_factory.begin() as s:
        org = create_org(s, " Acme ", "shareofmodel", plan="pro", credits=1000)
        assert (org.name, org.plan, org.credits) == ("Acme", "pro", 1000)
        with pytest.raises(Conflict, match="already exists"):
            create_org(s, "Acme", "soterai")
        with pytest.raises(RoleModelError, match="unknown role model"):
            create_org(s, "Other", "nope")
        with pytest.raises(
            InputError, match="plan: 'gold' is not a shareofmodel plan; one of: pro, enterprise"
        ):
            create_org(s, "Other", "shareofmodel", plan="gold")
        with pytest.raises(InputError, match="one of: team, enterprise"):
            create_org(s, "Other", "soterai", plan="banana")
    with session_factory() as s:
        assert get_org(s, "Acme").id == get_org(s, org.id).id
        with pytest.raises(NotFound):
            get_org(s, "Nobody")


def test_the_pro_plan_allows_one_workspace_and_enterprise_more(
    session_factory: sessionmaker[Session],
) -> None:
    """shareofmodel: a pro org has its one workspace from creation, and no other;
    enterprise has as many as it makes."""
    with session_factory.begin() as s:
        pro = create_org(s, "Pro", "shareofmodel", plan="pro", credits=300)
        ent = create_org(s, "Ent", "shareofmodel", plan="enterprise")
        assert [(w.name, w.credits) for w in load_state(s, pro.id).workspaces] == [("Pro", 300)]
        with pytest.raises(LimitError, match="the pro plan allows 1 workspace; the org has 1"):
            create_workspace(s, pro.id, "two")
        for name in ("a", "b", "c"):
            create_workspace(s, ent.id, name)
        with pytest.raises(Conflict):
            create_workspace(s, ent.id, "a")
    with session_factory() as s:
        assert [w.name for w in load_state(s, ent.id).workspaces] == ["a", "b", "c"]


def test_workspace_credits_never_pass_the_org_pool(session_factory: sessionmaker[Session]) -> None:
    """The sum of workspace credits stays within the org's credits."""
    with session_factory.begin() as s:
        org = create_org(s, "Acme", "shareofmodel", credits=1000)
        create_workspace(s, org.id, "a", credits=600)
        with pytest.raises(LimitError, match="600 of 1000 in use"):
            create_workspace(s, org.id, "b", credits=500)
        create_workspace(s, org.id, "b", credits=400)
        other = create_org(s, "Hub", "aihub")
        with pytest.raises(InputError, match="carry no credits"):
            create_workspace(s, other.id, "x", credits=5)


def test_a_manual_member_is_checked_against_the_role_model(
    session_factory: sessionmaker[Session],
) -> None:
    """Roles and workspaces must exist; the member is invited with origin manual."""
    with session_factory.begin() as s:
        org = create_org(s, "Lab", "annotation")
        create_workspace(s, org.id, "labelling")
    op = Caller("cli", None)
    invite_member(
        session_factory, org.id, "Ann@Lab.example", "member", {"labelling": ["admin"]}, caller=op
    )
    with pytest.raises(Conflict):
        invite_member(session_factory, org.id, "ann@lab.example", "member", caller=op)
    with pytest.raises(InputError, match="org_role"):
        invite_member(session_factory, org.id, "bob@lab.example", "boss", caller=op)
    with pytest.raises(InputError, match="no workspace named 'ghost'"):
        invite_member(
            session_factory, org.id, "bob@lab.example", "member", {"ghost": ["member"]}, caller=op
        )
    with pytest.raises(InputError, match="labelling: 'x' is not one of"):
        invite_member(
            session_factory, org.id, "bob@lab.example", "member", {"labelling": ["x"]}, caller=op
        )
    with session_factory() as s:
        [ann] = load_state(s, org.id).members
    assert (ann.email, ann.origin, ann.status, dict(ann.workspaces)) == (
        "ann@lab.example",
        "manual",
        "invited",
        {"labelling": ("admin",)},
    )
