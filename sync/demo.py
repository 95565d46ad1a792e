"""``rolebridge demo``: a SQLite database under the instance folder, an org per role model
preset with a synthetic directory; print each plan, apply it, change a group and print
the incremental plan."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from mappings import PRESETS
from mappings.directory import Directory, GroupMember
from mappings.render import render_text
from sync import mirror
from sync.apikeys import create_api_key
from sync.db import make_engine, make_session_factory, upgrade
from sync.mappingstore import save_mapping
from sync.orgs import create_org, get_org
from sync.outbox import deliver
from sync.reconcile import reconcile
from sync.samples import SAMPLES, sample_directory
from sync.settings import Settings
from sync.tokens import create_token

__all__ = ["demo_command", "promote"]


def promote(directory: Directory, user_id: str) -> tuple[Directory, str]:
    """The directory with ``user_id`` added to the first group it is not in yet (the
    samples list their highest role first), and that group's name."""
    groups = list(directory.groups)
    for i, group in enumerate(groups):
        if all(m.value != user_id for m in group.members):
            groups[i] = replace(group, members=(*group.members, GroupMember(user_id, "User")))
            return replace(directory, groups=tuple(groups)), group.display_name
    return directory, ""


@click.command("demo")
@click.option(
    "--instance",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("instance"),
    show_default=True,
    help="Folder for the demo database and the delivered emails.",
)
@click.option("--serve", is_flag=True, help="Then serve rolebridge on the demo database.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo_command(instance: Path, serve: bool, host: str, port: int) -> None:
    """Run every preset's sample org through plan, apply and an incremental plan; with
    --serve, then run rolebridge on that database (admin pages, SCIM, API)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "demo.sqlite3"
    for stale in instance.glob("demo.sqlite3*"):
        stale.unlink()
    engine = make_engine(f"sqlite:///{path.resolve()}")
    upgrade(engine)
    factory = make_session_factory(engine)
    click.echo(f"rolebridge demo: database {path}\n")
    for preset, sample in SAMPLES.items():
        directory = sample_directory(sample)
        with factory.begin() as s:
            org = create_org(s, f"{preset}-demo", preset, plan=sample.plan, credits=sample.credits)
            save_mapping(s, org.id, sample.mapping, created_by="demo")
            source = mirror.ensure_source(s, org.id, "okta", "demo-okta")
            mirror.replace_snapshot(s, org.id, source.id, directory)
            org_id, source_id = org.id, source.id
        click.secho(f"== {org.name} (role model {preset}): first plan", bold=True)
        first = reconcile(factory, org_id, dry_run=False, trigger="demo")
        click.echo(render_text(first.plan), nl=False)
        click.echo(f"-> {first.status}\n")
        changed, group = promote(directory, directory.users[-1].id)
        with factory.begin() as s:
            mirror.replace_snapshot(s, org_id, source_id, changed)
        click.secho(
            f"== {org.name}: {directory.users[-1].user_name} joins {group!r}; incremental plan",
            bold=True,
        )
        click.echo(render_text(reconcile(factory, org_id, dry_run=True, trigger="demo").plan))
    settings = Settings(database_url=str(engine.url), instance_path=instance)
    report = deliver(factory, settings)
    click.echo(f"{report.sent} invitation email(s) written to {instance / 'outbox'}")
    if serve:
        _serve(factory, engine.url.render_as_string(), instance, host, port)
    engine.dispose()


def _serve(factory: sessionmaker[Session], url: str, instance: Path, host: str, port: int) -> None:
    """Mint an admin key and a SCIM token for the shareofmodel demo org, print them once,
    and serve the app on the demo database until interrupted."""
    from scim_server.wsgi import serve  # the edge, imported only to run it

    org_name = "shareofmodel-demo"
    with factory.begin() as s:
        org = get_org(s, org_name)
        _, key = create_api_key(s, org.id, "owner", PRESETS["shareofmodel"].org_roles, "demo")
        _, token = create_token(s, org_name, "demo")
    base = f"http://{host}:{port}"
    click.secho(f"\nrolebridge is serving the demo at {base} (Ctrl-C stops it)", bold=True)
    click.echo(f"  admin pages  {base}/admin      sign in with the API key {key}")
    click.echo(f"  admin API    {base}/api/v1/orgs/{org_name}   Authorization: Bearer {key}")
    click.echo(f"  SCIM 2.0     {base}/scim/v2    Authorization: Bearer {token}")
    os.environ["DATABASE_URL"] = url
    os.environ["ROLEBRIDGE_INSTANCE"] = str(instance)
    serve(host, port, workers=1, threads=4)
