"""Renderings of a plan: text like ``terraform plan``, Markdown for a review, stable JSON."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Literal, assert_never

from mappings.explain import Explanation
from mappings.operations import OP_KINDS, Operation, OpKind, Plan, Reason, Skipped, is_op_kind

__all__ = ["render_explanation", "render_json", "render_markdown", "render_text", "sign"]

Sign = Literal["+", "~", "-"]


def sign(kind: OpKind) -> Sign:
    """``+`` for an operation that adds, ``-`` for one that takes away, ``~`` otherwise."""
    match kind:
        case "create_workspace" | "invite" | "add_to_workspace" | "reactivate":
            return "+"
        case "rename_member" | "resend_invite" | "set_org_role" | "set_workspace_roles":
            return "~"
        case "suspend" | "remove_from_workspace" | "revoke_invite" | "remove_from_org":
            return "-"
        case _:
            assert_never(kind)


def _roles(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value) if value else "(none)"
    return str(value)


def describe(op: Operation) -> str:
    """The words of one operation, without its sign or reason."""
    ws = f" in {op.workspace}" if op.workspace else ""
    match op.op:
        case "invite":
            mail = "" if op.notify else " (no email)"
            return f"invite {op.user} as {op.org_role}{mail}"
        case "create_workspace":
            return f"create_workspace {op.workspace} ({op.credits} credits)"
        case "resend_invite" if op.invited_at is not None:
            return f"resend_invite {op.user} (invited {op.invited_at:%Y-%m-%d})"
        case "rename_member":
            return f"rename_member {op.from_} -> {op.to}"
        case "set_org_role" | "set_workspace_roles":
            return f"{op.op} {op.user}{ws} {_roles(op.from_)} -> {_roles(op.to)}"
        case "add_to_workspace":
            mail = " (no email)" if op.notify is False else ""
            return f"add_to_workspace {op.user}{ws} as {_roles(op.roles)}{mail}"
        case (
            "resend_invite"
            | "reactivate"
            | "suspend"
            | "remove_from_workspace"
            | "revoke_invite"
            | "remove_from_org"
        ):
            return f"{op.op} {op.user}{ws}"
        case _:
            assert_never(op.op)


def _reason(reasons: Iterable[Reason]) -> str:
    parts = []
    for r in reasons:
        path = " > ".join(r.groups)
        rule = "default org role" if r.rule < 0 and not r.groups else f"rule {r.rule}"
        if r.rule < 0 and r.groups:
            rule = "role model"
        parts.append(f"{rule}: {path}" if path else rule)
    return "; ".join(parts)


def summary_text(summary: Mapping[str, int]) -> str:
    """``Plan: 2 to add, 1 to change, 1 to remove.`` with the counts per kind."""
    counts = {"+": 0, "~": 0, "-": 0}
    for kind, n in summary.items():
        counts[sign(kind) if is_op_kind(kind) else "~"] += n
    return f"Plan: {counts['+']} to add, {counts['~']} to change, {counts['-']} to remove."


def _skip_text(s: Skipped) -> str:
    ws = f" in {s.workspace}" if s.workspace else ""
    detail = f" ({s.detail})" if s.detail else ""
    return f"{s.op} {s.user}{ws}: {s.why}{detail}".replace("  ", " ")


def render_text(plan: Plan) -> str:
    """A ``terraform plan``-like listing with reasons and a summary line."""
    lines: list[str] = []
    if not plan.operations:
        lines.append("No changes. The platform matches the directory.")
    for op in plan.operations:
        reason = _reason(op.reason) or (op.detail or "")
        lines.append(f"  {sign(op.op)} {describe(op)}" + (f"    [{reason}]" if reason else ""))
    if plan.skipped:
        lines += ["", "Skipped:"]
        lines += [f"  ! {_skip_text(s)}" for s in plan.skipped]
    if plan.warnings:
        lines += ["", "Warnings:"]
        lines += [f"  * {w}" for w in plan.warnings]
    lines.append("")
    if plan.held:
        lines.append(f"Held for approval ({plan.held.why}): {plan.held.detail}")
    kinds = ", ".join(f"{plan.summary[k]} {k}" for k in OP_KINDS if plan.summary.get(k))
    lines.append(summary_text(plan.summary) + (f" ({kinds})" if kinds else ""))
    if plan.fingerprint:
        lines.append(f"Fingerprint: {plan.fingerprint}")
    return "\n".join(lines) + "\n"


_MD_ESCAPES = str.maketrans({c: f"\\{c}" for c in "\\`[]|"} | {"\n": " ", "\r": " "})


def _md_cell(text: str) -> str:
    """IdP-supplied text made inert: HTML escaped, links, code spans and cells disarmed."""
    return html.escape(text, quote=False).translate(_MD_ESCAPES)


def render_markdown(plan: Plan) -> str:
    """A Markdown review: a table of operations, skipped ones, and the summary."""
    lines = ["### rolebridge plan", ""]
    if plan.held:
        lines += [f"> **Held for approval** ({plan.held.why}): {_md_cell(plan.held.detail)}", ""]
    if plan.operations:
        lines += ["| | operation | user | details | reason |", "|---|---|---|---|---|"]
        for op in plan.operations:
            words = describe(op).removeprefix(op.op).strip().removeprefix(op.user).strip()
            lines.append(
                f"| {sign(op.op)} | `{op.op}` | {_md_cell(op.user or '')} | {_md_cell(words)} "
                f"| {_md_cell(_reason(op.reason) or op.detail or '')} |"
            )
    else:
        lines.append("No changes. The platform matches the directory.")
    if plan.skipped:
        lines += ["", "<details><summary>Skipped</summary>", ""]
        lines += [
            f"- `{s.op}` {_md_cell(_skip_text(s).removeprefix(s.op).strip())}" for s in plan.skipped
        ]
        lines += ["", "</details>"]
    if plan.warnings:
        lines += ["", "**Warnings**", ""] + [f"- {_md_cell(w)}" for w in plan.warnings]
    lines += ["", f"**{summary_text(plan.summary)}**"]
    if plan.fingerprint:
        lines.append(f"Fingerprint: `{plan.fingerprint}`")
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    """The public JSON form, keys sorted, two-space indent: equal plans give equal bytes."""
    return json.dumps(plan.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_explanation(explanation: Explanation) -> str:
    """A readable account of one user's roles and the grants that lost."""
    e = explanation
    lines = [f"User: {e.key or e.query}"]
    if not e.found or e.org_role is None:
        lines += [f"  {n}" for n in e.notes]
        lines.append("  Result: no roles")
        return "\n".join(lines) + "\n"
    lines.append(f"  Active in the IdP: {'yes' if e.active else 'no'}")
    lines.append(f"  Org role: {e.org_role}")
    for ws, roles in sorted(e.workspaces.items()):
        lines.append(f"  Workspace {ws}: {', '.join(roles)}")
    lines += ["", "Grants:"]
    for g in e.grants:
        where = f"workspace {g.workspace} " if g.workspace else "org "
        via = f" via {' > '.join(g.groups)}" if g.groups else ""
        mark = "won" if g.won else f"lost to {g.beaten_by}"
        lines.append(f"  {'+' if g.won else 'x'} {where}{g.role} from {g.rule_text}{via}: {mark}")
    if e.notes:
        lines += ["", "Notes:"] + [f"  * {n}" for n in e.notes]
    return "\n".join(lines) + "\n"
