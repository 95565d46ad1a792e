"""The mapping editor: YAML in a text area, validate, save, and a live preview of the
plan the draft would make, each row expandable to its explanation."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from mappings.errors import InputError
from scim_server.admin import bp
from scim_server.admin.planrows import plan_table
from scim_server.api.context import (
    caller,
    int_arg,
    json_object,
    org_context,
    read_session,
    session_factory,
)
from sync.drafts import diff_versions, explain_user, preview_draft
from sync.errors import NotFound
from sync.mappingstore import current_mapping, list_versions, parse_document
from sync.services.mappings import save_mapping

__all__ = ["explain_fragment", "mapping_diff", "mapping_editor", "preview_fragment"]


def _preview_context(document: str) -> dict[str, object]:
    """The preview table for a draft, or the error that stops it."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        try:
            mapping = parse_document(document, ctx.role_model.name)
            plan = preview_draft(s, ctx.id, document)
        except InputError as e:
            return {"error": e}
    return {"table": plan_table(plan, mapping), "plan": plan}


@bp.get("/mapping")
def mapping_editor() -> str:
    """The editor, filled with the current mapping."""
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
        try:
            current = current_mapping(s, ctx.id)
            document, version = current.document, current.version
        except NotFound:
            document, version = f"role_model: {ctx.role_model.name}\nrules: []\n", None
        versions = list_versions(s, ctx.id)
    return render_template(
        "admin/mapping.html", document=document, version=version, versions=versions
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
def mapping_submit() -> str | BaseResponse:
    """Validate and preview the draft (no JavaScript needed), or save it."""
    document = request.form.get("document", "")
    if request.form.get("action") == "save":
        return _save(document)
    context = _preview_context(document)
    if "error" not in context:
        flash("The draft is valid.", "ok")
    return render_template("admin/mapping.html", document=document, version=None, **context)


def _save(document: str) -> str | BaseResponse:
    with read_session() as s:
        ctx = org_context(s, caller().org_name)
    try:
        saved = save_mapping(session_factory(), ctx.id, document, ctx.authority)
    except InputError as e:
        return render_template("admin/mapping.html", document=document, version=None, error=e)
    flash(f"Saved as version {saved.version}.", "ok")
    return redirect(url_for("admin.mapping_editor"), 303)


@bp.post("/mapping/preview")
def preview_fragment() -> str:
    """The live preview table for the editor's fetch (HTML fragment)."""
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
