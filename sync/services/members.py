"""Changing members by hand: invite, set roles, remove, resend or revoke an invite, and
the invite link, the same from the API, the admin pages and the CLI.

Each use case takes the caller (``mappings.authority.Caller``), opens the transaction,
takes the org lock, loads the org's state, asks the core for the plan
(``mappings.manual.plan_manual_change``) and applies it with ``sync.store.platform.apply_plan``,
the apply of the IdP path: an audit entry per operation (losses marked, so they count in
the org's removal window) and an outbox message per notified invite or resend. A change
a rule refuses changes nothing and raises ``Refused`` with the plan's skip reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller
from mappings.manual import (
    ManualChange,
    NoSuchMember,
    NotApplicable,
    plan_manual_change,
    refusal_field,
)
from mappings.operations import Plan
from mappings.state import Member as StateMember
from sync.db import write_session
from sync.errors import Conflict, NotFound, Refused
from sync.models import Member, Organisation, utcnow
from sync.reconcile import lock_org
from sync.store.audit import record_audit
from sync.store.invites import accept_url, mint_token
from sync.store.orgs import OrgView, get_org, role_model_for
from sync.store.platform import apply_plan, load_state

__all__ = [
    "INVITE_LINK",
    "MemberChanged",
    "apply_change",
    "invite_link",
    "invite_member",
    "remove_member",
    "resend_invite",
    "revoke_invite",
    "set_member",
]

INVITE_LINK = "invite_link"  # the audit entry of a link handed out by hand


@dataclass(frozen=True, slots=True)
class MemberChanged:
    """What a change did: the plan applied, the member after it (None once removed),
    whether the member is new, and the emails it queued."""

    org_id: int
    org_name: str
    email: str
    plan: Plan
    member: StateMember | None
    created: bool = False
    messages: int = 0


def invite_member(
    session_factory: sessionmaker[Session],
    org: int | str,
    email: str,
    org_role: str | None,
    workspaces: Mapping[str, Sequence[str]] | None = None,
    *,
    caller: Caller,
    now: datetime | None = None,
) -> MemberChanged:
    """Invite a new member by hand (origin ``manual``): an invite email with its link."""
    change = ManualChange("invite", email, org_role, dict(workspaces or {}))
    return _change(session_factory, org, change, caller, now)


def set_member(
    session_factory: sessionmaker[Session],
    org: int | str,
    email: str,
    org_role: str | None,
    workspaces: Mapping[str, Sequence[str]] | None = None,
    *,
    caller: Caller,
    now: datetime | None = None,
) -> MemberChanged:
    """Change a member's org role and workspace roles (invite them when new)."""
    change = ManualChange("set", email, org_role, dict(workspaces or {}))
    return _change(session_factory, org, change, caller, now)


def remove_member(
    session_factory: sessionmaker[Session],
    org: int | str,
    email: str,
    *,
    caller: Caller,
    now: datetime | None = None,
) -> MemberChanged:
    """Remove a member from the org (a pending invite is revoked)."""
    return _change(session_factory, org, ManualChange("remove", email), caller, now)


def resend_invite(
    session_factory: sessionmaker[Session],
    org: int | str,
    email: str,
    *,
    caller: Caller,
    now: datetime | None = None,
) -> MemberChanged:
    """Send a pending invite again; its age starts again, so an expired one is renewed."""
    return _change(session_factory, org, ManualChange("resend", email), caller, now)


def revoke_invite(
    session_factory: sessionmaker[Session],
    org: int | str,
    email: str,
    *,
    caller: Caller,
    now: datetime | None = None,
) -> MemberChanged:
    """Withdraw a pending invite: its link stops working."""
    return _change(session_factory, org, ManualChange("revoke", email), caller, now)


def invite_link(
    session_factory: sessionmaker[Session],
    org: int | str,
    email: str,
    *,
    caller: Caller,
    base_url: str,
    now: datetime | None = None,
) -> str:
    """A fresh accept link of a pending invite, for an admin without mail; the link sent
    before stops working. Allowed where resending the invite is."""
    now = now or utcnow()
    with write_session(session_factory) as session:
        row = get_org(session, org)
        lock_org(session, row.id)
        plan, _ = _plan(session, row, ManualChange("resend", email), caller, now)
        key = plan.operations[0].user
        member = session.scalars(
            select(Member).where(Member.org_id == row.id, Member.email == key)
        ).one()
        token, member.invite_token_hash = mint_token()
        record_audit(session, row.id, caller.actor, INVITE_LINK, key, {"op": INVITE_LINK})
        return accept_url(base_url, token)


# the one path -------------------------------------------------------------------------


def _change(
    session_factory: sessionmaker[Session],
    org: int | str,
    change: ManualChange,
    caller: Caller,
    now: datetime | None,
) -> MemberChanged:
    with write_session(session_factory) as session:
        row = get_org(session, org)
        lock_org(session, row.id)
        return apply_change(session, row, change, caller, now or utcnow())


def _plan(
    session: Session,
    org: Organisation | OrgView,
    change: ManualChange,
    caller: Caller,
    now: datetime,
) -> tuple[Plan, bool]:
    """The core's plan for the change (and whether the member is new), or the refusal as
    an error."""
    state = load_state(session, org.id)
    model = role_model_for(org.role_model)
    try:
        plan = plan_manual_change(state, model, change, caller, now)
    except NoSuchMember as exc:
        raise NotFound(exc.message) from None
    except NotApplicable as exc:
        raise Conflict(exc.message) from None
    if plan.skipped:
        first = plan.skipped[0]
        raise Refused(first.why, first.detail or first.why, refusal_field(first))
    return plan, all(m.key != change.key for m in state.members)


def apply_change(
    session: Session,
    org: Organisation | OrgView,
    change: ManualChange,
    caller: Caller,
    now: datetime,
) -> MemberChanged:
    plan, created = _plan(session, org, change, caller, now)
    result = apply_plan(session, org.id, plan, actor=caller.actor, now=now, origin="manual")
    after = {m.key: m for m in load_state(session, org.id).members}.get(change.key)
    return MemberChanged(
        org.id,
        org.name,
        change.key,
        plan,
        after,
        created=created,
        messages=result.messages,
    )
