"""A reference consumer of rolebridge's webhooks: a small Flask app that verifies each
delivery with the ``standardwebhooks`` library and applies it to its own membership table.

Run it with ``WEBHOOK_SECRET=whsec_... CONSUMER_DB=members.sqlite3 flask --app app run``
and point ``rolebridge webhook add --url http://host:5000/webhooks`` at it.

What it shows:

- verify before anything else (a bad signature or an old timestamp is a 400);
- deliveries are at least once: an event id seen before is acknowledged and skipped;
- events arrive in ``seq`` order per endpoint; the consumer keeps the last ``seq`` it
  applied and ignores anything at or below it;
- the change and the "seen" mark commit in one transaction, so a crash never half-applies;
- to catch up after downtime, read ``GET /api/v1/orgs/<org>/events?after=<cursor>``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from flask import Flask, Response, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    org TEXT NOT NULL, email TEXT NOT NULL, idp_id TEXT, org_role TEXT NOT NULL,
    status TEXT NOT NULL, workspaces TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (org, email));
CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS position (org TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def connect(path: str) -> sqlite3.Connection:
    """The consumer's database (created if new)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.executescript(SCHEMA)
    return db


def _member(db: sqlite3.Connection, org: str, email: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT org_role, status, workspaces FROM members WHERE org = ? AND email = ?",
        (org, email),
    ).fetchone()
    if row is None:
        return None
    return {"org_role": row[0], "status": row[1], "workspaces": json.loads(row[2])}


def apply_event(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    """Apply one event to the membership table (inside the caller's transaction)."""
    org, email, after = event["org"], event.get("email"), event.get("after") or {}
    kind = event["type"]
    if kind == "member.invited":
        db.execute(
            "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?, 'invited', '{}')",
            (org, email, event.get("idp_id"), after["org_role"]),
        )
    elif kind in ("member.joined", "member.suspended", "member.reactivated"):
        db.execute(
            "UPDATE members SET status = ? WHERE org = ? AND email = ?",
            (after["status"], org, email),
        )
    elif kind == "member.org_role_changed":
        db.execute(
            "UPDATE members SET org_role = ? WHERE org = ? AND email = ?",
            (after["org_role"], org, email),
        )
    elif kind == "member.workspace_roles_changed":
        current = _member(db, org, email)
        if current is not None:
            workspaces = current["workspaces"]
            roles = sorted(after.get("roles") or [])
            if roles:
                workspaces[event["workspace"]] = roles
            else:
                workspaces.pop(event["workspace"], None)
            db.execute(
                "UPDATE members SET workspaces = ? WHERE org = ? AND email = ?",
                (json.dumps(workspaces, sort_keys=True), org, email),
            )
    elif kind in ("member.removed", "invite.revoked", "invite.expired"):
        db.execute("DELETE FROM members WHERE org = ? AND email = ?", (org, email))
    elif kind == "member.renamed":
        db.execute(
            "UPDATE members SET email = ? WHERE org = ? AND email = ?",
            (after["email"], org, (event.get("before") or {}).get("email")),
        )
    # invite.resent, workspace.created, plan.*, pull.*, snapshot.*, source.*: nothing to do


def create_app(db_path: str | None = None, secret: str | None = None) -> Flask:
    """The consumer app."""
    app = Flask(__name__)
    db = connect(db_path or os.environ.get("CONSUMER_DB", "members.sqlite3"))
    verifier = Webhook(secret or os.environ["WEBHOOK_SECRET"])
    app.config["CONSUMER_DB"] = db

    @app.post("/webhooks")
    def receive() -> Response:
        body = request.get_data()
        try:
            event = verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response("bad signature", 400)
        if not isinstance(event, dict) or "seq" not in event:
            return Response("", 204)  # e.g. a webhook.test message
        db.execute("BEGIN IMMEDIATE")
        try:
            seen = db.execute("SELECT 1 FROM seen WHERE id = ?", (event["id"],)).fetchone()
            row = db.execute("SELECT seq FROM position WHERE org = ?", (event["org"],)).fetchone()
            if seen is None and (row is None or event["seq"] > row[0]):
                apply_event(db, event)
                db.execute(
                    "INSERT OR REPLACE INTO position VALUES (?, ?)", (event["org"], event["seq"])
                )
            db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (event["id"],))
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        return Response("", 204)

    return app


def members(db: sqlite3.Connection, org: str) -> dict[str, dict[str, Any]]:
    """The consumer's view of an org: email -> org role, status, workspaces."""
    rows = db.execute(
        "SELECT email, org_role, status, workspaces FROM members WHERE org = ?", (org,)
    ).fetchall()
    return {r[0]: {"org_role": r[1], "status": r[2], "workspaces": json.loads(r[3])} for r in rows}
