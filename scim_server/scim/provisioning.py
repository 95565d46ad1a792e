"""After each SCIM write: reconcile the users it touched, in the write's own transaction.

The mirror change and the plan it causes commit together: with the mapping's
``apply: auto`` the plan is applied, with ``apply: review`` (or over
``max_removals``) it waits as a pending or held plan. An org without a mapping
yet only collects its directory. A failure rolls the SCIM write back too, so the
IdP retries it. A write that waited for its org's lock on PostgreSQL is planned with
the others that waited, once committed (``sync.backlog``, docs/architecture.md section
3.1 step 5).
"""

from __future__ import annotations

import logging

from flask import request
from sqlalchemy.orm import Session

from scim_server.scim.storage import Touched
from sync.credentials.tokens import Tenant
from sync.reconcile import reconcile_write

__all__ = ["TRIGGER", "is_write_request", "reconcile_touched"]

TRIGGER = "scim"
_log = logging.getLogger("rolebridge.scim")


def reconcile_touched(session: Session, tenant: Tenant, touched: Touched) -> None:
    """Reconcile the touched users of the tenant's org in one pass, if it has a mapping."""
    if not touched.users:
        return
    # the SCIM store's write transaction took the org's lock at its start
    result = reconcile_write(session, tenant.org_id, users=sorted(touched.users), trigger=TRIGGER)
    if result is None:
        return
    _log.info(
        "scim reconcile org=%s users=%d status=%s", tenant.org_id, len(touched.users), result.status
    )


def is_write_request() -> bool:
    """Whether the current request writes (a search with POST does not)."""
    return request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.endswith(
        "/.search"
    )
