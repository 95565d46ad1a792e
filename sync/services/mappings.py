"""Saving an org's mapping: authority, transaction, org lock, validation, the new
version and its audit entry, the same from every entry point."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from mappings.authority import Caller, refusal_for_mapping
from sync.db import write_session
from sync.errors import Forbidden, StaleVersion
from sync.reconcile import lock_org
from sync.store.audit import record_audit
from sync.store.mappings import latest_version, parse_document
from sync.store.mappings import save_mapping as store_version
from sync.store.orgs import get_org, role_model_for

__all__ = ["SAVE_MAPPING", "SavedVersion", "save_mapping"]

SAVE_MAPPING = "save_mapping"


@dataclass(frozen=True, slots=True)
class SavedVersion:
    """The mapping version a save made."""

    org_id: int
    org_name: str
    version: int


def save_mapping(
    session_factory: sessionmaker[Session],
    org: int | str,
    document: str,
    caller: Caller,
    *,
    expected_version: int | None = None,
) -> SavedVersion:
    """Save ``document`` as the org's next version for the caller (the operator, with no
    role, is not bounded by the role model), with one audit entry. Line endings are
    stored as LF whatever the client sent (a browser's form sends CRLF).

    ``expected_version`` is the version the draft was made from (0: none saved yet); when
    given, a save after someone else's raises ``StaleVersion`` (checked under the org
    lock, so of two concurrent saves from one version exactly one wins)."""
    document = document.replace("\r\n", "\n").replace("\r", "\n")
    with write_session(session_factory) as session:
        row = get_org(session, org)
        lock_org(session, row.id)
        if expected_version is not None:
            newest = latest_version(session, row.id)
            if newest != expected_version:
                raise StaleVersion(
                    f"the mapping is at version {newest}, not {expected_version}: "
                    "someone saved since; reload, merge and save again",
                    newest,
                )
        model = role_model_for(row.role_model)
        mapping = parse_document(document, row.role_model)
        refusal = (
            None
            if caller.operator
            else refusal_for_mapping(model, caller, mapping.policy.acting_role)
        )
        if refusal is not None:
            raise Forbidden(refusal, "policy.acting_role")
        version = store_version(session, row.id, document, created_by=caller.actor).version
        record_audit(session, row.id, caller.actor, SAVE_MAPPING, "", {"version": version})
        return SavedVersion(row.id, row.name, version)
