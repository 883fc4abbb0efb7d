"""The one place that wires the ledger together from settings."""

from __future__ import annotations

from ledger.adapters.clock import Clock, system_clock
from ledger.adapters.store import EventStore
from ledger.adapters.validation import EventValidator
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.recording import Ledger
from ledger.application.sealing import install_sealer
from ledger.config import Settings


def build_ledger(settings: Settings | None = None, clock: Clock = system_clock) -> Ledger:
    settings = settings or Settings()
    ledger = Ledger(EventStore(settings), EventValidator(), clock)
    install_sealer(ledger, settings)  # signed checkpoints after appends (tamper evidence)
    return ledger


def build_engine(ledger: Ledger, settings: Settings, *, live: bool = False) -> ResponsibilityEngine:
    return ResponsibilityEngine(ledger, settings.allowed_lateness, ledger.clock, live=live)
