"""``rolebridge webhook add|list|remove|test|replay|failures`` and ``rolebridge events``:
an org's webhook endpoints and its event feed."""

from __future__ import annotations

import click

from mappings.authority import Caller
from rolebridge.cli.common import (
    database,
    echo_json_lines,
    format_option,
    one_line_errors,
    org_id,
    org_option,
    settings,
)
from sync.services.webhooks import (
    add_webhook,
    delete_webhook,
    replay,
    test_webhook,
    webhook_failures,
    webhooks_of,
)
from sync.store.events import EVENT_TYPES, decode_cursor, list_events, parse_types

__all__ = ["events_command", "webhook_group"]

_OPERATOR = Caller(actor="cli", role=None)


@click.group("webhook")
def webhook_group() -> None:
    """Webhook endpoints that receive an organisation's events (Standard Webhooks)."""


@webhook_group.command("add")
@org_option()
@click.option("--url", required=True, help="The endpoint (https in production).")
@click.option(
    "--types",
    default=None,
    help=f"Comma-separated event types to send (default: all). Known: {', '.join(EVENT_TYPES)}.",
)
def add(org: str, url: str, types: str | None) -> None:
    """Add an endpoint; its signing secret (whsec_...) is printed once."""
    configured = settings()
    with database(configured) as factory:
        found = org_id(factory, org)
        with one_line_errors():
            made = add_webhook(factory, found, _OPERATOR, url, configured, types)
    click.echo(f"webhook {made.webhook['id']} for {org}: {made.webhook['url']}")
    click.echo("signing secret, shown once, keep it safe:")
    click.echo(made.secret)


@webhook_group.command("list")
@org_option()
@format_option
def list_(org: str, fmt: str) -> None:
    """The org's endpoints: state, how far delivery got, failed events."""
    with database() as factory:
        found = org_id(factory, org)
        hooks = webhooks_of(factory, found)
    if fmt == "json":
        echo_json_lines(hooks)
        return
    for h in hooks:
        state = h["status"] if h["status"] == "active" else f"disabled ({h['disabled_reason']})"
        retry = f", retrying (attempt {h['attempts']}: {h['last_error']})" if h["attempts"] else ""
        failed = f", {h['failed_events']} failed" if h["failed_events"] else ""
        types = ",".join(h["types"]) if h["types"] else "all"
        click.echo(
            f"{h['id']}\t{h['url']}\t{types}\t{state}\tthrough seq "
            f"{h['delivered_through_seq']}{retry}{failed}"
        )


@webhook_group.command("remove")
@org_option()
@click.argument("webhook_id", type=int)
def remove(org: str, webhook_id: int) -> None:
    """Remove an endpoint."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            delete_webhook(factory, found, _OPERATOR, webhook_id)
    click.echo(f"webhook {webhook_id} removed")


@webhook_group.command("test")
@org_option()
@click.argument("webhook_id", type=int)
def test(org: str, webhook_id: int) -> None:
    """Send a signed webhook.test message now and print the answer."""
    configured = settings()
    with database(configured) as factory:
        found = org_id(factory, org)
        with one_line_errors():
            click.echo(test_webhook(factory, found, _OPERATOR, webhook_id, configured))


@webhook_group.command("failures")
@org_option()
@click.argument("webhook_id", type=int)
@format_option
def failures_(org: str, webhook_id: int, fmt: str) -> None:
    """The events an endpoint gave up on after retrying."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            rows = webhook_failures(factory, found, webhook_id)
    if fmt == "json":
        echo_json_lines(rows)
        return
    for f in rows:
        replayed = f"replayed {f['replayed_at']}" if f["replayed_at"] else "not replayed"
        click.echo(f"{f['seq']}\t{f['event_id']}\t{f['attempts']} tries\t{f['error']}\t{replayed}")


@webhook_group.command("replay")
@org_option()
@click.argument("webhook_id", type=int)
@click.option(
    "--from-seq",
    type=click.IntRange(1, 2**31 - 1),
    default=None,
    help="The sequence number to send again from.",
)
def replay_(org: str, webhook_id: int, from_seq: int | None) -> None:
    """Send the endpoint's events again from --from-seq (default: its oldest failed
    event); a disabled endpoint is enabled again."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors():
            start = replay(factory, found, _OPERATOR, webhook_id, from_seq)
    click.echo(f"webhook {webhook_id} sends again from seq {start}")


@click.command("events")
@org_option()
@click.option("--after", default=None, help="A cursor from an earlier page.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Events per page.",
)
@click.option("--types", default=None, help="Comma-separated event types.")
def events_command(org: str, after: str | None, limit: int, types: str | None) -> None:
    """The org's events in order, one JSON object per line; the last line is the cursor."""
    with database() as factory:
        found = org_id(factory, org)
        with one_line_errors(), factory() as session:
            page = list_events(
                session,
                found,
                after=decode_cursor(after) if after else 0,
                limit=limit,
                types=parse_types(types),
            )
    echo_json_lines(page.events)
    echo_json_lines([{"next_cursor": page.next_cursor, "has_more": page.has_more}])
