"""`ledger relay obligations`: the reminder outbox relay (consumers/obligation_relay.py)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from cli.root import build_ledger, load_settings

relay_app = typer.Typer(help="Relays from the ledger to Kafka.", no_args_is_help=True)


@relay_app.command("obligations")
def obligations(
    until_idle: Annotated[float | None, typer.Option(
        help="Stop once nothing new came for this many seconds (default: run until "
             "stopped).")] = None,
    chunk: Annotated[int, typer.Option(
        min=1, help="Ledger entries read per Kafka transaction.")] = 500,
) -> None:
    """Publish every obligation opened, due soon, missed or escalated to the reminder
    topic (LEDGER_OBLIGATIONS_TOPIC), each exactly once, in ledger order per holder."""
    from consumers.obligation_relay import ObligationRelay

    settings = load_settings()
    ledger = build_ledger(settings)
    relay = ObligationRelay(ledger.store, settings, chunk=chunk)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        relay.run(stop, until_idle_s=until_idle)
    except KeyboardInterrupt:
        stop.set()
    typer.echo(f"published {relay.published} reminders up to {relay.position}")
