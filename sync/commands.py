"""CLI commands on the database: schema, orgs, workspaces, members, mappings, audit,
outbox and invites (plans are in ``sync.plancli``). Each gathers inputs, calls the stores
and prints; an error is one line on stderr and exit status 1 (usage errors exit 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mappings.directory import Directory
from mappings.errors import RolebridgeError
from mappings.mapping import RoleMapping
from mappings.render import render_json, render_markdown, render_text
from mappings.rolemodel import RoleModel
from mappings.state import PlatformState
from sync.db import check_schema, make_engine_for, make_session_factory, upgrade
from sync.settings import Settings

__all__ = [
    "audit_command",
    "db_group",
    "invite_group",
    "mapping_set_command",
    "mapping_versions_command",
    "member_group",
    "one_line_errors",
    "open_database",
    "org_id_by_name",
    "org_group",
    "outbox_group",
    "workspace_group",
]

RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
_FILE = click.Path(path_type=Path, dir_okay=False)


def _fail(message: object) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn rolebridge's own errors into one line and exit status 1."""
    try:
        yield
    except RolebridgeError as exc:
        _fail(exc)


def _settings() -> Settings:
    settings = Settings.from_env()
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    return settings


def open_database(settings: Settings | None = None) -> sessionmaker[Session]:
    """The session factory of the configured database, refused unless fully migrated."""
    settings = settings or _settings()
    engine = make_engine_for(settings)
    with one_line_errors():
        check_schema(engine)
    return make_session_factory(engine)


def org_id_by_name(session_factory: sessionmaker[Session], org: str) -> int:
    """The id of the org called ``org`` (an unknown name is one line and exit 1)."""
    from sync.orgs import get_org

    with session_factory() as session, one_line_errors():
        return get_org(session, org).id


# db ---------------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
def db_upgrade_command() -> None:
    """Create or migrate the database to the newest schema."""
    settings = _settings()
    engine = make_engine_for(settings)
    upgrade(engine)
    check_schema(engine)
    click.echo(f"database {engine.url.render_as_string(hide_password=True)} is up to date")


# orgs, workspaces, members ------------------------------------------------------------


@click.group("org")
def org_group() -> None:
    """Organisations."""


@org_group.command("create")
@click.argument("name")
@click.option("--role-model", required=True, help="Role model preset, e.g. shareofmodel.")
@click.option("--plan", "plan_name", default=None, help="Commercial plan (pro, enterprise).")
@click.option("--credits", type=click.IntRange(min=0), default=None, help="Credit pool.")
def org_create_command(
    name: str, role_model: str, plan_name: str | None, credits: int | None
) -> None:
    """Create an organisation on a role model preset."""
    from sync.orgs import create_org

    factory = open_database()
    with one_line_errors(), factory.begin() as session:
        org = create_org(session, name, role_model, plan=plan_name, credits=credits)
        click.echo(
            f"created organisation {org.name} (role model {org.role_model}, plan {org.plan})"
        )


@org_group.command("list")
def org_list_command() -> None:
    """List organisations."""
    from sync.orgs import list_orgs

    with open_database()() as session:
        for org in list_orgs(session):
            credits = "unlimited" if org.credits is None else org.credits
            click.echo(f"{org.name}\t{org.role_model}\t{org.plan}\tcredits {credits}")


@click.group("workspace")
def workspace_group() -> None:
    """Workspaces of an organisation."""


@workspace_group.command("create")
@click.option("--org", required=True, help="Organisation name.")
@click.argument("name")
@click.option("--credits", type=click.IntRange(min=0), default=0, help="Credits it reserves.")
def workspace_create_command(org: str, name: str, credits: int) -> None:
    """Create a workspace within the org's plan and credits."""
    from sync.orgs import create_workspace

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with one_line_errors(), factory.begin() as session:
        ws = create_workspace(session, org_id, name, credits)
        click.echo(f"created workspace {ws.name} in {org} ({ws.credits} credits)")


@click.group("member")
def member_group() -> None:
    """Members added by hand (origin manual)."""


@member_group.command("add")
@click.option("--org", required=True, help="Organisation name.")
@click.argument("email")
@click.option("--role", required=True, help="Org role.")
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="NAME=ROLE[,ROLE]",
    help="A workspace and the member's roles in it; repeatable.",
)
@click.option("--invited", is_flag=True, help="Add as a pending invite rather than joined.")
def member_add_command(
    org: str, email: str, role: str, workspaces: tuple[str, ...], invited: bool
) -> None:
    """Add a manual member; reconciliation leaves them alone unless the policy says otherwise."""
    from sync.orgs import add_member

    grants: dict[str, list[str]] = {}
    for item in workspaces:
        name, sep, roles = item.partition("=")
        if not sep or not name or not roles:
            _fail(f"--workspace {item!r}: expected NAME=ROLE[,ROLE]")
        grants[name] = [r.strip() for r in roles.split(",") if r.strip()]
    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with one_line_errors(), factory.begin() as session:
        status = "invited" if invited else "joined"
        member = add_member(session, org_id, email, role, workspaces=grants, status=status)
        click.echo(f"added {member.email} to {org} as {member.org_role} ({member.status}, manual)")


# mappings ---------------------------------------------------------------------------


@click.command("set")
@click.option("--org", required=True, help="Organisation name.")
@click.argument("file", type=_FILE)
def mapping_set_command(org: str, file: Path) -> None:
    """Check a mapping file and save it as the org's next mapping version."""
    from sync.files import load_mapping
    from sync.mappingstore import save_mapping
    from sync.orgs import get_org, role_model_for

    factory = open_database()
    with one_line_errors(), factory.begin() as session:
        found = get_org(session, org)
        load_mapping(file, role_model_for(found.role_model))  # file:line errors
        row = save_mapping(session, found.id, file.read_text(encoding="utf-8"), created_by="cli")
        click.echo(f"saved mapping version {row.version} for {found.name}")


@click.command("versions")
@click.option("--org", required=True, help="Organisation name.")
def mapping_versions_command(org: str) -> None:
    """List the org's saved mapping versions, newest first."""
    from sync.mappingstore import list_versions

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    with factory() as session:
        for row in list_versions(session, org_id):
            click.echo(f"v{row.version}\t{row.created_at:%Y-%m-%d %H:%M}\t{row.created_by}")


# audit, outbox, invites ---------------------------------------------------------------


@click.command("audit")
@click.option("--org", required=True, help="Organisation name.")
@click.option("--user", default=None, help="Only this user's entries.")
@click.option("--limit", type=click.IntRange(min=1), default=100)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_command(org: str, user: str | None, limit: int, as_json: bool) -> None:
    """What was applied to the org, newest first: when, by what, the op and why."""
    from sync.models import AuditEntry

    factory = open_database()
    org_id = org_id_by_name(factory, org)
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if user:
        query = query.where(AuditEntry.user == user.strip().casefold())
    with factory() as session:
        rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "at": row.at.isoformat(),
                        "actor": row.actor,
                        "plan": row.plan_id,
                        **row.detail,
                    },
                    sort_keys=True,
                )
            )
        else:
            where = f" [{row.workspace}]" if row.workspace else ""
            click.echo(
                f"{row.at:%Y-%m-%d %H:%M:%S}  {row.actor:<16} {row.op:<22} {row.user}{where}"
            )


@click.group("outbox")
def outbox_group() -> None:
    """Emails waiting to go out."""


@outbox_group.command("deliver")
def outbox_deliver_command() -> None:
    """Send every due email (SMTP if ROLEBRIDGE_SMTP_URL is set, else files in the instance)."""
    from sync.outbox import deliver

    settings = _settings()
    report = deliver(open_database(settings), settings)
    target = "SMTP" if settings.smtp_url else str(settings.instance_path / "outbox")
    click.echo(f"sent {report.sent}, failed {report.failed}, dropped {report.dropped} ({target})")


@click.group("invite")
def invite_group() -> None:
    """Invites."""


@invite_group.command("accept")
@click.argument("token")
def invite_accept_command(token: str) -> None:
    """Accept an invite: the member goes from invited to joined."""
    from sync.invites import accept_invite

    factory = open_database()
    with one_line_errors(), factory.begin() as session:
        member = accept_invite(session, token)
        click.echo(f"{member.email} has joined")


def org_inputs(
    org: str, mapping_file: Path | None = None
) -> tuple[RoleMapping, RoleModel, Directory, PlatformState]:
    """(mapping, role model, directory, state) of an org from the database; a mapping
    file, when given, is a draft that replaces the saved mapping."""
    from sync.files import load_mapping
    from sync.orgs import get_org, role_model_for
    from sync.reconcile import gather

    factory = open_database()
    with one_line_errors(), factory() as session:
        found = get_org(session, org)
        model = role_model_for(found.role_model)
        if mapping_file is not None:
            draft = load_mapping(mapping_file, model)
            from sync.mirror import load_directory
            from sync.platform import load_state

            return draft, model, load_directory(session, found.id), load_state(session, found.id)
        inputs = gather(session, found.id)
        return inputs.mapping, model, inputs.directory, inputs.state
