"""The one place that wires the ledger together from settings."""

from __future__ import annotations

from ledger.adapters.eventstore import EventStore
from ledger.application import Ledger
from ledger.clock import Clock, system_clock
from ledger.config import Settings
from ledger.engine import ResponsibilityEngine
from ledger.sealing import install_sealer
from ledger.validation import EventValidator


def build_ledger(settings: Settings | None = None, clock: Clock = system_clock) -> Ledger:
    settings = settings or Settings()
    ledger = Ledger(EventStore(settings), EventValidator(), clock)
    install_sealer(ledger, settings)  # signed checkpoints after appends (tamper evidence)
    return ledger


def build_engine(ledger: Ledger, settings: Settings, *, live: bool = False) -> ResponsibilityEngine:
    return ResponsibilityEngine(ledger, settings.allowed_lateness, ledger.clock, live=live)
