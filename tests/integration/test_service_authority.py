"""Each service decides the caller's authority itself: a caller whose role manages no one
(soterai's member) is refused with ``Forbidden`` by every use case that changes
something, and nothing is written; the operator (the CLI) is not bounded by the role
model (docs/architecture.md section 2.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from sync.errors import Forbidden
from sync.models import ApiKey, AuditEntry, SavedPlan, ScimToken, Source
from sync.services import credentials, orgs, plans, reconcile, sources, workspaces
from sync.store.orgs import create_org

MEMBER = Caller(actor="apikey:9:member key", role="member")
MANAGER = Caller(actor="apikey:8:manager key", role="manager")
OPERATOR = Caller(actor="cli", role=None)
SETTINGS = sources.SourceSettings(
    "okta", "okta", {"org_url": "https://acme.okta.example"}, secret="s3cret"
)


@pytest.fixture
def acme(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The soterai org acme, an owner key, a SCIM token and a source, made by the
    operator: the ids a refused caller aims at."""
    with session_factory.begin() as s:
        org_id = create_org(s, "acme", "soterai").id
    key = credentials.create_key(session_factory, org_id, OPERATOR, "owner", "owner key")
    token = credentials.create_token(session_factory, org_id, OPERATOR, "okta")
    sources.save_source(session_factory, org_id, OPERATOR, SETTINGS, secret_key="k", create=True)
    return {"org": org_id, "key": key.credential.id, "token": token.credential.id}


def _written(factory: sessionmaker[Session]) -> tuple[int, ...]:
    with factory() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (AuditEntry, ApiKey, ScimToken, Source, SavedPlan)
        )


CASES: dict[str, Callable[[sessionmaker[Session], dict[str, int], Caller], Any]] = {
    "list_tokens": lambda f, ids, c: credentials.list_tokens(
        f, ids["org"], c, limit=10, cursor=None
    ),
    "create_token": lambda f, ids, c: credentials.create_token(f, ids["org"], c, "x"),
    "rotate_token": lambda f, ids, c: credentials.rotate_token(f, ids["org"], c, ids["token"]),
    "revoke_token": lambda f, ids, c: credentials.revoke_token(f, ids["org"], c, ids["token"]),
    "create_key": lambda f, ids, c: credentials.create_key(f, ids["org"], c, "owner", "x"),
    "rotate_key": lambda f, ids, c: credentials.rotate_key(f, ids["org"], c, ids["key"]),
    "revoke_key": lambda f, ids, c: credentials.revoke_key(f, ids["org"], c, ids["key"]),
    "add_source": lambda f, ids, c: sources.save_source(
        f,
        ids["org"],
        c,
        sources.SourceSettings("other", "okta", {"org_url": "https://b.example"}, secret="x"),
        secret_key="k",
        create=True,
    ),
    "edit_source": lambda f, ids, c: sources.save_source(
        f, ids["org"], c, SETTINGS, secret_key="k", create=False
    ),
    "pause_source": lambda f, ids, c: sources.set_paused(f, ids["org"], c, "okta", True),
    "request_run": lambda f, ids, c: sources.request_run(f, ids["org"], c, "okta"),
    "run_source": lambda f, ids, c: sources.run_source(f, ids["org"], "okta", c, secret_key="k"),
    "create_plan": lambda f, ids, c: plans.create_plan(f, ids["org"], c),
    "discard_plan": lambda f, ids, c: plans.discard_plan(f, ids["org"], 1, c),
    "reconcile": lambda f, ids, c: reconcile.reconcile(f, ids["org"], c),
    "reconcile_member": lambda f, ids, c: reconcile.reconcile_member(
        f, ids["org"], "olga@acme.com", c
    ),
    "create_workspace": lambda f, ids, c: workspaces.create_workspace(f, ids["org"], "w", 0, c),
    "create_org": lambda f, ids, c: orgs.create_org_with_holder(
        f, "other", "soterai", plan=None, credits=None, holder=None, caller=c
    ),
}


@pytest.mark.parametrize("use_case", sorted(CASES))
def test_a_role_that_manages_no_one_is_refused_and_nothing_is_written(
    session_factory: sessionmaker[Session], acme: dict[str, int], use_case: str
) -> None:
    """``Forbidden`` from the service itself; no entry, no token, key, source or plan."""
    before = _written(session_factory)
    with pytest.raises(Forbidden):
        CASES[use_case](session_factory, acme, MEMBER)
    assert _written(session_factory) == before


def test_a_manager_may_not_touch_scim_tokens_or_owner_keys_but_may_make_its_own(
    session_factory: sessionmaker[Session], acme: dict[str, int]
) -> None:
    """Tokens are the top role's; a key of a role the manager does not manage is refused,
    one of its own role is made with the audit entry naming the manager."""
    for use_case in ("create_token", "revoke_token", "create_key", "revoke_key"):
        with pytest.raises(Forbidden):
            CASES[use_case](session_factory, acme, MANAGER)
    made = credentials.create_key(session_factory, acme["org"], MANAGER, "manager", "mine")
    assert (made.credential.role, made.credential.created_by) == ("manager", MANAGER.actor)


def test_the_operator_makes_an_org_with_its_entry(session_factory: sessionmaker[Session]) -> None:
    """The operator is not bounded by the role model: the org is made, with one entry."""
    made = orgs.create_org_with_holder(
        session_factory, "lab", "soterai", plan=None, credits=None, holder=None, caller=OPERATOR
    )
    with session_factory() as s:
        entries = s.scalars(select(AuditEntry.op).where(AuditEntry.org_id == made.id)).all()
    assert entries == ["create_org"]
