"""``rolebridge demo``: a SQLite database under the instance folder, an org per role model
preset with a synthetic directory; print each plan, apply it, change a group and print
the incremental plan; with --serve, then serve the app on that database."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mappings.render import render_text
from sync.db import make_engine, make_session_factory, upgrade
from sync.demo import DEMO_ORG, demo_credentials, promote, replace_directory, seed_sample
from sync.reconcile import reconcile
from sync.samples import SAMPLES, sample_directory
from sync.settings import Settings
from sync.store.outbox import deliver

__all__ = ["demo_command"]


@click.command("demo")
@click.option(
    "--instance",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("instance"),
    show_default=True,
    help="Folder for the demo database and the delivered emails.",
)
@click.option("--serve", is_flag=True, help="Then serve rolebridge on the demo database.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to serve on.")
def demo_command(instance: Path, serve: bool, host: str, port: int) -> None:
    """Run every preset's sample org through plan, apply and an incremental plan; with
    --serve, then run rolebridge on that database (admin pages, SCIM, API)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "demo.sqlite3"
    for stale in instance.glob("demo.sqlite3*"):
        stale.unlink()
    # the demo builds its own fresh database rather than opening the configured one
    engine = make_engine(f"sqlite:///{path.resolve()}")
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        click.echo(f"rolebridge demo: database {path}\n")
        for preset, sample in SAMPLES.items():
            directory = sample_directory(sample)
            org_id, source_id, name = seed_sample(factory, preset, sample, directory)
            click.secho(f"== {name} (role model {preset}): first plan", bold=True)
            first = reconcile(factory, org_id, dry_run=False, trigger="demo")
            click.echo(render_text(first.plan), nl=False)
            click.echo(f"-> {first.status}\n")
            changed, group = promote(directory, directory.users[-1].id)
            replace_directory(factory, org_id, source_id, changed)
            joiner = directory.users[-1].user_name
            click.secho(f"== {name}: {joiner} joins {group!r}; incremental plan", bold=True)
            again = reconcile(factory, org_id, dry_run=True, trigger="demo")
            click.echo(render_text(again.plan))
        settings = Settings(database_url=str(engine.url), instance_path=instance)
        report = deliver(factory, settings)
        click.echo(f"{report.sent} invitation email(s) written to {instance / 'outbox'}")
        credentials = demo_credentials(factory) if serve else None
        url = engine.url.render_as_string()
    finally:
        engine.dispose()
    if credentials is not None:
        _serve(credentials, url, instance, host, port)


def _serve(credentials: tuple[str, str], url: str, instance: Path, host: str, port: int) -> None:
    """Print the demo org's API key and SCIM token once, and serve the app on the demo
    database until interrupted."""
    from scim_server.wsgi import serve  # the web app loads only for the command that runs it

    key, token = credentials
    base = f"http://{host}:{port}"
    click.secho(f"\nrolebridge is serving the demo at {base} (Ctrl-C stops it)", bold=True)
    click.echo(f"  admin pages  {base}/admin      sign in with the API key {key}")
    click.echo(f"  admin API    {base}/api/v1/orgs/{DEMO_ORG}   Authorization: Bearer {key}")
    click.echo(f"  SCIM 2.0     {base}/scim/v2    Authorization: Bearer {token}")
    os.environ["DATABASE_URL"] = url
    os.environ["ROLEBRIDGE_INSTANCE"] = str(instance)
    serve(host, port, workers=1, threads=4)
