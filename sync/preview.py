"""CLI commands that preview a plan, explain a user and validate a mapping.

They read files (or, with --org, an org's live inputs from the database), call the core
and print; an input error is one line naming the file and place, and exit status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from mappings import (
    Directory,
    InputError,
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
from mappings.state import parse_time
from sync.files import load_directory, load_mapping, load_state
from sync.gcpause import cyclic_gc_paused

__all__ = ["EXAMPLES", "explain_command", "mapping_group", "preview_command", "run_preview"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
T = TypeVar("T")


def _or_exit(load: Callable[[], T]) -> T:
    """Run a loader; an input error becomes one line on stderr and exit status 1."""
    try:
        return load()
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(1) from None


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    parsed = _or_exit(lambda: parse_time(value, "--now"))
    assert parsed is not None
    return parsed


def _inputs(
    mapping: Path, directory: Path, state: Path | None
) -> tuple[RoleMapping, RoleModel, Directory, PlatformState | None]:
    rm = _or_exit(lambda: load_mapping(mapping))
    model = _role_model(rm)
    d = _or_exit(lambda: load_directory(directory))
    s = _or_exit(lambda: load_state(state, model)) if state is not None else None
    return rm, model, d, s


def _role_model(rm: RoleMapping) -> RoleModel:
    spec: str | dict[str, Any] = dict(rm.role_model_spec) if rm.role_model_spec else rm.role_model
    return _or_exit(lambda: load_role_model(spec))


_FILE = click.Path(path_type=Path, dir_okay=False)


def run_preview(
    mapping: Path, directory: Path, state: Path, fmt: str, detailed: bool, now: str | None
) -> None:
    """Print the plan for files; exit 2 with ``detailed`` when it has operations."""
    rm, model, d, s = _inputs(mapping, directory, state)
    assert s is not None
    plan = make_plan(d, s, rm, model, now=_now(now))
    click.echo(RENDERERS[fmt](plan), nl=False)
    if detailed and plan.operations:
        raise SystemExit(2)


@click.command("preview")
@click.option("--org", default=None, help="Use this org's live directory and state (database).")
@click.option("--mapping", "mapping", type=_FILE, default=None, help="Mapping file (YAML/JSON).")
@click.option("--directory", type=_FILE, default=None, help="Directory: SCIM users and groups.")
@click.option("--state", type=_FILE, default=None, help="The platform's actual state.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text")
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
        from sync.commands import org_inputs

        rm, model, d, s = org_inputs(org, mapping)
        plan = make_plan(d, s, rm, model, now=_now(now))
        click.echo(RENDERERS[fmt](plan), nl=False)
        if detailed_exitcode and plan.operations:
            raise SystemExit(2)
        return
    if mapping is None or directory is None or state is None:
        raise click.UsageError("give --mapping, --directory and --state, or --org")
    run_preview(mapping, directory, state, fmt, detailed_exitcode, now)


@click.command("explain")
@click.option("--user", required=True, help="Email, userName or IdP id.")
@click.option("--org", default=None, help="Use this org's live directory and mapping (database).")
@click.option("--mapping", "mapping", type=_FILE, default=None, help="Mapping file (YAML/JSON).")
@click.option("--directory", type=_FILE, default=None, help="Directory: SCIM users and groups.")
@click.option("--state", type=_FILE, default=None, help="Accepted for symmetry with preview.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
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
        from sync.commands import org_inputs

        rm, model, d, _ = org_inputs(org, mapping)
    elif mapping is None or directory is None:
        raise click.UsageError("give --mapping and --directory, or --org")
    else:
        rm, model, d, _ = _inputs(mapping, directory, state)
    explanation = explain(d, rm, model, user)
    if fmt == "json":
        import json

        click.echo(json.dumps(explanation.to_dict(), sort_keys=True, indent=2))
    else:
        click.echo(render_explanation(explanation), nl=False)


@click.group("mapping")
def mapping_group() -> None:
    """Work with mapping files."""


@mapping_group.command("validate")
@click.argument("file", type=_FILE)
def validate_command(file: Path) -> None:
    """Check a mapping file; print a one-line summary or the first error."""
    rm = _or_exit(lambda: load_mapping(file))
    n = len(rm.rules)
    click.echo(f"{file}: ok ({n} rule{'s' if n != 1 else ''}, role model {rm.role_model})")
