"""The mapping editor: YAML in a text area with line numbers, validate, save, and a live
preview of what the draft changes compared with the saved mapping (the changes already
pending under the saved mapping shown apart), each row expandable to its explanation."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.authority import refusal_for_admin_action
from mappings.errors import InputError
from mappings.operations import Plan
from scim_server.admin import bp
from scim_server.admin.planrows import consequences, plan_table
from scim_server.api.context import (
    caller,
    int_arg,
    json_object,
    org_context,
    read_session,
    session_factory,
)
from sync.drift import draft_changes, org_drift
from sync.errors import Forbidden, NotFound
from sync.services.drafts import diff_versions, explain_user
from sync.services.mappings import save_mapping
from sync.store.mappings import current_mapping, list_versions, parse_document

__all__ = ["error_line", "explain_fragment", "mapping_diff", "mapping_editor", "preview_fragment"]

_LINE = re.compile(r"^line (\d+)")
_RULE = re.compile(r"^rules\[(\d+)\]")
_KEY = re.compile(r"^([A-Za-z_]+)")


def error_line(document: str, where: str) -> int | None:
    """The line (1-based) an error's ``where`` points at: ``line 4, column 2``,
    ``rules[1].org_role`` (the rule's first line) or a top-level key such as ``policy``."""
    lines = document.split("\n")
    if m := _LINE.match(where):
        return int(m.group(1))
    rule = _RULE.match(where)
    key = "rules" if rule else (m.group(1) if (m := _KEY.match(where)) else None)
    if key is None:
        return None
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is None or rule is None:
        return None if start is None else start + 1
    wanted, seen, indent = int(rule.group(1)), -1, None
    for i in range(start + 1, len(lines)):
        text = lines[i]
        stripped = text.lstrip(" ")
        if text and not text.startswith((" ", "-", "#")):
            break  # the next top-level key
        if stripped.startswith("- "):
            depth = len(text) - len(stripped)
            indent = depth if indent is None else indent
            if depth == indent:
                seen += 1
                if seen == wanted:
                    return i + 1
    return start + 1


def _preview_context(document: str) -> dict[str, object]:
    """What the draft changes against the saved mapping, or the error that stops it."""
    document = document.replace("\r\n", "\n")
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        try:
            mapping = parse_document(document, ctx.role_model.name)
            changes = draft_changes(s, ctx.id, document, now=datetime.now(UTC))
        except InputError as e:
            return {"error": e, "error_line": error_line(document, e.where)}
    plan = changes.draft
    caused = replace(plan, operations=changes.caused)
    return {
        "table": plan_table(caused, mapping),
        "plan": caused,
        "whole": plan_table(plan, mapping),
        "pending": plan_table(Plan(operations=changes.pending), mapping),
        "undone": plan_table(Plan(operations=changes.undone)),
        "saved_version": changes.saved_version,
        "does": consequences(dict(plan.summary)),
    }


def _saved_version() -> int | None:
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        try:
            return current_mapping(s, ctx.id).version
        except NotFound:
            return None


def _may_save() -> bool:
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    return refusal_for_admin_action(ctx.role_model, ctx.caller.role) is None


@bp.get("/mapping")
def mapping_editor() -> str:
    """The editor, filled with the current mapping; after a save, what it will change."""
    saved = request.args.get("saved", "")
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        try:
            current = current_mapping(s, ctx.id)
            document, version = current.document, current.version
        except NotFound:
            document, version = f"role_model: {ctx.role_model.name}\nrules: []\n", None
        versions = list_versions(s, ctx.id)
        drift = org_drift(s, ctx.id, now=datetime.now(UTC)) if saved else None
    return render_template(
        "admin/mapping.html",
        document=document,
        version=version,
        versions=versions,
        may_save=_may_save(),
        saved=saved,
        drift=drift,
        drift_does=consequences(dict(drift.plan.summary)) if drift and drift.plan else "",
        org_key=ctx.id,
    )


@bp.get("/mapping/diff")
def mapping_diff() -> str:
    """The unified diff between two saved versions."""
    base, other = int_arg("base"), int_arg("other")
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        diff = diff_versions(s, ctx.id, base, other)
    return render_template("admin/diff.html", diff=diff)


@bp.post("/mapping")
def mapping_submit() -> str | tuple[str, int] | BaseResponse:
    """Validate and preview the draft (no JavaScript needed), or save it."""
    document = request.form.get("document", "").replace("\r\n", "\n")
    if request.form.get("action") == "save":
        return _save(document)
    context = _preview_context(document)
    if "error" not in context:
        flash("The draft is valid.", "ok")
    return render_template(
        "admin/mapping.html",
        document=document,
        version=None,
        next_version=_saved_version(),
        may_save=_may_save(),
        org_key=caller().org_id,
        **context,
    )


def _save(document: str) -> tuple[str, int] | BaseResponse:
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    try:
        saved = save_mapping(session_factory(), ctx.id, document, ctx.authority)
    except (InputError, Forbidden) as e:
        refused = isinstance(e, Forbidden)
        error = InputError(str(e), e.field or "") if isinstance(e, Forbidden) else e
        page = render_template(
            "admin/mapping.html",
            document=document,
            version=None,
            error=error,
            error_line=error_line(document, error.where),
            next_version=_saved_version(),
            may_save=_may_save(),
            org_key=ctx.id,
        )
        return page, 403 if refused else 200
    flash(f"Saved as version {saved.version}.", "ok")
    return redirect(url_for("admin.mapping_editor", saved=saved.version), 303)


@bp.post("/mapping/preview")
def preview_fragment() -> str:
    """The live preview for the editor's fetch (HTML fragment)."""
    document = json_object().get("document", "")
    return render_template("admin/_preview.html", **_preview_context(str(document)))


@bp.post("/explain")
def explain_fragment() -> str:
    """One user's explanation under a draft (or the saved mapping), as an HTML fragment."""
    data = json_object()
    document = data.get("document") or None
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        try:
            explanation = explain_user(s, ctx.id, str(data.get("user", "")), document)
        except (InputError, NotFound) as e:
            return render_template("admin/_explain.html", error=str(e))
    return render_template("admin/_explain.html", e=explanation)
