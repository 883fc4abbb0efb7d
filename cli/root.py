"""The composition root: the one place that reads the settings from the environment,
configures the process's logs, and wires the ledger together from those settings.

Everything else is handed its settings (or the values it needs) as parameters.
"""

from __future__ import annotations

import os
from functools import lru_cache

from ledger.adapters.case_spill import CaseSpill
from ledger.adapters.clock import Clock, system_clock
from ledger.adapters.logs import install_log_handler
from ledger.adapters.rule_sandbox import (
    SandboxConfig,
    SandboxedEvaluator,
    rule_limits,
    shared_sandbox,
)
from ledger.adapters.store import EventStore
from ledger.adapters.validation import EventValidator
from ledger.application.admission import Admission
from ledger.application.case_cache import CaseCache
from ledger.application.derivation import ResponsibilityEngine
from ledger.application.follower import FollowerThread
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer, install_sealer
from ledger.application.transparency import Transparency
from ledger.config import Settings
from ledger.domain.signed_note import parse_vkey

#: Prefix of the environment variables the settings are read from.
ENV_PREFIX = "LEDGER_"


def load_settings() -> Settings:
    """This process's settings, read from its LEDGER_* environment variables.

    Read once and reused; read again only when those variables change (a test runs
    several commands in one process, each with an environment of its own)."""
    return _settings_for(_ledger_environment())


def _ledger_environment() -> tuple[tuple[str, str], ...]:
    # pydantic-settings matches names case-insensitively, so the key does too.
    return tuple(sorted((name, value) for name, value in os.environ.items()
                        if name.upper().startswith(ENV_PREFIX)))


@lru_cache(maxsize=8)
def _settings_for(environment: tuple[tuple[str, str], ...]) -> Settings:
    del environment  # only the cache's key: Settings() reads the environment itself
    return Settings()


def configure_logging(settings: Settings, level: str | None = None) -> None:
    """Logs of a long-running process: every logger (uvicorn's and libraries' too) to
    stderr, as JSON lines or text (LEDGER_LOG_FORMAT), from LEDGER_LOG_LEVEL or `level`.
    Calling it again replaces the handler rather than adding one."""
    install_log_handler(level or settings.log_level, settings.log_format)


def build_ledger(settings: Settings | None = None, clock: Clock = system_clock) -> Ledger:
    return build_sealed_ledger(settings or load_settings(), clock)[0]


def build_sealed_ledger(
    settings: Settings, clock: Clock = system_clock
) -> tuple[Ledger, Sealer | None]:
    """The ledger and its sealer (None without a signing key), which signs checkpoints
    after appends (tamper evidence)."""
    admission = Admission(settings.max_string_length, settings.future_time_tolerance)
    validator = EventValidator(rule_limits=rule_limits(settings))
    ledger = Ledger(EventStore(settings), validator, clock, admission)
    return ledger, install_sealer(ledger, settings)


def checkpoint_timer(sealer: Sealer | None, settings: Settings) -> FollowerThread | None:
    """Seals quiet tenants too: while the process runs, no entry stays unsigned for more than
    1.25 x LEDGER_CHECKPOINT_INTERVAL_S, which bounds what a truncation could hide."""
    if sealer is None:
        return None
    return FollowerThread("checkpoint-timer", lambda: len(sealer.sweep()),
                          settings.checkpoint_interval_s / 4)


def build_engine(ledger: Ledger, settings: Settings, *, live: bool = False) -> ResponsibilityEngine:
    return ResponsibilityEngine(ledger, settings.allowed_lateness, ledger.clock, live=live,
                                evaluator=rule_evaluator(settings, warm=live),
                                quarantine_after=settings.quarantine_after,
                                batch_size=settings.engine_batch_size,
                                cache_tenants=settings.engine_cache_tenants,
                                reminder_lead=settings.obligation_due_soon,
                                cases=CaseCache(CaseSpill(settings.engine_spill_dir),
                                                settings.engine_cache_cases))


def rule_evaluator(settings: Settings, *, warm: bool = False) -> SandboxedEvaluator:
    """Policy rules run in worker processes under a budget: a rule that crashes the CEL
    library or runs away costs its own outcome, never this process (one pool per process,
    shared by the engine and the read models).

    `warm`: start the workers now, without waiting for them, so the first evaluation does
    not wait ~0.5-1 s for their start-up. Only for long-running processes (a live engine):
    each worker costs ~0.3 s of CPU and ~50 MB, wasted by a command that evaluates nothing
    (an export or a derive with nothing new)."""
    sandbox = shared_sandbox(SandboxConfig.from_settings(settings))
    if warm:
        sandbox.warm()
    return sandbox


def build_transparency(ledger: Ledger, settings: Settings) -> Transparency:
    """Signed notes and the witnesses whose cosignatures the ledger keeps."""
    witnesses = [parse_vkey(k) for k in settings.witness_keys.split(",") if k.strip()]
    return Transparency(ledger.store, ledger.clock, witnesses)
