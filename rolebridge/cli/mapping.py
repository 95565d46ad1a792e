"""``rolebridge preview|explain|mapping``: plans for files or an org's live inputs, why a
user gets each role, and mapping files checked, saved and listed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from mappings import (
    Directory,
    PlatformState,
    RoleMapping,
    RoleModel,
    explain,
    load_role_model,
    make_plan,
    render_explanation,
    render_json,
    render_markdown,
    render_text,
)
from mappings.authority import Caller
from mappings.schema import mapping_schema
from mappings.state import parse_time
from rolebridge.cli.common import (
    FILE,
    database,
    echo_json_lines,
    format_option,
    one_line_errors,
    org_id,
    org_option,
)
from sync.files import load_directory, load_mapping, load_state
from sync.gcpause import cyclic_gc_paused
from sync.services.drafts import org_inputs
from sync.services.mappings import save_mapping
from sync.services.replan import replan
from sync.store.mappings import list_versions
from sync.store.orgs import role_model_of

__all__ = ["RENDERERS", "explain_command", "mapping_group", "preview_command"]

RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
T = TypeVar("T")


def _or_exit(load: Callable[[], T]) -> T:
    """Run a loader; an input error becomes one line on stderr and exit status 1."""
    with one_line_errors():
        return load()


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    parsed = _or_exit(lambda: parse_time(value, "--now"))
    assert parsed is not None
    return parsed


def _role_model(rm: RoleMapping) -> RoleModel:
    spec: str | dict[str, Any] = dict(rm.role_model_spec) if rm.role_model_spec else rm.role_model
    return _or_exit(lambda: load_role_model(spec))


def _file_inputs(
    mapping: Path, directory: Path, state: Path | None
) -> tuple[RoleMapping, RoleModel, Directory, PlatformState | None]:
    rm = _or_exit(lambda: load_mapping(mapping))
    model = _role_model(rm)
    d = _or_exit(lambda: load_directory(directory))
    s = _or_exit(lambda: load_state(state, model)) if state is not None else None
    return rm, model, d, s


def _org_inputs(
    org: str, mapping_file: Path | None
) -> tuple[RoleMapping, RoleModel, Directory, PlatformState]:
    """An org's live inputs; a mapping file, when given, is a draft replacing its mapping."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors(), factory() as session:
            draft = None
            if mapping_file is not None:
                draft = load_mapping(mapping_file, role_model_of(session, found))  # file:line
            return org_inputs(session, found, draft)


@click.command("preview")
@org_option(required=False, help="Use this org's live directory and state (name or id).")
@click.option("--mapping", "mapping", type=FILE, default=None, help="Mapping file (YAML/JSON).")
@click.option("--directory", type=FILE, default=None, help="Directory: SCIM users and groups.")
@click.option("--state", type=FILE, default=None, help="The platform's actual state.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="How to print the plan.",
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are."
)
@click.option("--now", default=None, help="Pretend it is this ISO 8601 time (invite ages).")
@cyclic_gc_paused()
def preview_command(
    org: str | None,
    mapping: Path | None,
    directory: Path | None,
    state: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    now: str | None,
) -> None:
    """Preview the plan for a mapping, a directory and a state, all from files; or, with
    --org, for the org's live directory and state (and its saved mapping or --mapping)."""
    if org is not None:
        rm, model, d, s = _org_inputs(org, mapping)
    elif mapping is None or directory is None or state is None:
        raise click.UsageError("give --mapping, --directory and --state, or --org")
    else:
        rm, model, d, file_state = _file_inputs(mapping, directory, state)
        assert file_state is not None
        s = file_state
    plan = make_plan(d, s, rm, model, now=_now(now))
    click.echo(RENDERERS[fmt](plan), nl=False)
    if detailed_exitcode and plan.operations:
        raise SystemExit(2)


@click.command("explain")
@click.option("--user", required=True, help="Email, userName or IdP id.")
@org_option(required=False, help="Use this org's live directory and mapping (name or id).")
@click.option("--mapping", "mapping", type=FILE, default=None, help="Mapping file (YAML/JSON).")
@click.option("--directory", type=FILE, default=None, help="Directory: SCIM users and groups.")
@click.option("--state", type=FILE, default=None, help="Accepted for symmetry with preview.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the explanation.",
)
@cyclic_gc_paused()
def explain_command(
    user: str,
    org: str | None,
    mapping: Path | None,
    directory: Path | None,
    state: Path | None,
    fmt: str,
) -> None:
    """Explain why a user gets each role and which grants lost (files, or --org)."""
    if org is not None:
        rm, model, d, _ = _org_inputs(org, mapping)
    elif mapping is None or directory is None:
        raise click.UsageError("give --mapping and --directory, or --org")
    else:
        rm, model, d, _ = _file_inputs(mapping, directory, state)
    explanation = explain(d, rm, model, user)
    if fmt == "json":
        click.echo(json.dumps(explanation.to_dict(), sort_keys=True, indent=2))
    else:
        click.echo(render_explanation(explanation), nl=False)


@click.group("mapping")
def mapping_group() -> None:
    """Work with mapping files."""


@mapping_group.command("validate")
@click.argument("file", type=FILE)
def validate_command(file: Path) -> None:
    """Check a mapping file; print a one-line summary or the first error."""
    rm = _or_exit(lambda: load_mapping(file))
    n = len(rm.rules)
    click.echo(f"{file}: ok ({n} rule{'s' if n != 1 else ''}, role model {rm.role_model})")


@mapping_group.command("schema")
def mapping_schema_command() -> None:
    """Print the mapping format's JSON Schema (for editors and CI)."""
    click.echo(json.dumps(mapping_schema(), indent=2))


@mapping_group.command("set")
@org_option()
@click.argument("file", type=FILE)
@click.option(
    "--no-reconcile",
    is_flag=True,
    help="Only save the version; the org is re-planned at its next write, pull or "
    "housekeeping round.",
)
def mapping_set_command(org: str, file: Path, no_reconcile: bool) -> None:
    """Check a mapping file, save it as the org's next mapping version and reconcile the
    org under it (applied, or stored for approval as the policy says)."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            with factory() as session:
                model = role_model_of(session, found)
            load_mapping(file, model)  # file:line errors
            document = file.read_text(encoding="utf-8")
            # The operator on the host holds no API key: the role model does not bound it.
            saved = save_mapping(factory, found, document, Caller("cli", None))
    click.echo(f"saved mapping version {saved.version} for {saved.org_name}")
    if no_reconcile:
        return
    with database() as factory, one_line_errors():
        result = replan(factory, saved.org_id, trigger="mapping set")
    if result is not None:
        suffix = f" (plan {result.plan_id})" if result.plan_id else ""
        summary = ", ".join(f"{n} {op}" for op, n in result.plan.summary.items()) or "no change"
        click.echo(f"reconciled: {result.status}{suffix}: {summary}")


@mapping_group.command("versions")
@org_option()
@format_option
def mapping_versions_command(org: str, fmt: str) -> None:
    """List the org's saved mapping versions, newest first."""
    with database() as factory:
        found = org_id(factory, org)
        with factory() as session:
            rows = [(r.version, r.created_at, r.created_by) for r in list_versions(session, found)]
    if fmt == "json":
        echo_json_lines(
            {"version": v, "created_at": at.isoformat(), "created_by": by} for v, at, by in rows
        )
        return
    for version, at, by in rows:
        click.echo(f"v{version}\t{at:%Y-%m-%d %H:%M}\t{by}")
