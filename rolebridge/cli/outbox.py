"""``rolebridge outbox deliver|work`` and ``rolebridge invite accept``: emails and invites."""

from __future__ import annotations

import click

from rolebridge.cli.common import database, one_line_errors, settings
from sync import logs
from sync.delivery import deliver_webhooks
from sync.services.replan import accept_and_replan
from sync.store.outbox import deliver
from sync.worker import work

__all__ = ["invite_group", "outbox_group"]


@click.group("outbox")
def outbox_group() -> None:
    """Emails waiting to go out."""


@outbox_group.command("deliver")
def outbox_deliver_command() -> None:
    """Send every due email (SMTP if ROLEBRIDGE_SMTP_URL is set, else files in the instance)
    and every due webhook event."""
    configured = settings()
    with database(configured) as factory:
        report = deliver(factory, configured)
        hooks = deliver_webhooks(factory, configured)
    target = "SMTP" if configured.smtp_url else str(configured.instance_path / "outbox")
    click.echo(f"sent {report.sent}, failed {report.failed}, dropped {report.dropped} ({target})")
    click.echo(
        f"webhooks: delivered {hooks.delivered}, retrying {hooks.retrying}, "
        f"failed {hooks.failed}, disabled {hooks.disabled}"
    )


@outbox_group.command("work")
@click.option(
    "--interval", default=10.0, show_default=True, help="Seconds between delivery rounds."
)
@click.option("--max-runtime", default=None, type=float, help="Stop after this many seconds.")
def outbox_work_command(interval: float, max_runtime: float | None) -> None:
    """Deliver due emails every few seconds until stopped."""
    configured = settings()
    logs.configure_logging(configured.log_level, configured.log_format)
    with database(configured) as factory:
        sent = work(factory, configured, interval, max_runtime)
    click.echo(f"outbox worker stopped after sending {sent}", err=True)


@click.group("invite")
def invite_group() -> None:
    """Invites."""


@invite_group.command("accept")
@click.argument("token")
def invite_accept_command(token: str) -> None:
    """Accept an invite (its token, or the whole link): the member goes from invited to
    joined, and the org is re-planned for them."""
    token = token.strip().rstrip("/").rsplit("/invite/", 1)[-1]
    with database() as factory, one_line_errors():
        accepted = accept_and_replan(factory, token)
    click.echo(f"{accepted.email} has joined")
    if accepted.result is not None and accepted.result.status != "empty":
        suffix = f" (plan {accepted.result.plan_id})" if accepted.result.plan_id else ""
        click.echo(f"re-planned: {accepted.result.status}{suffix}")
