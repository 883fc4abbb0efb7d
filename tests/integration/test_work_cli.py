"""`ledger work --until-idle` (embedded) derives and projects every tenant, and
`ledger quarantine list|retry` shows and releases quarantines (both backends)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.application.derivation import derived_position
from ledger.application.quarantine import open_quarantines
from ledger.application.recording import Ledger
from ledger.config import Settings
from projections.runner import Projections
from tests.integration.test_quarantine import CrashingEvaluator, engine, tenant_events


@pytest.fixture
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_HOME", str(settings.home))
    monkeypatch.setenv("LEDGER_STORE_NAME", settings.store_name)
    monkeypatch.setenv("LEDGER_METRICS_PORT", "0")
    monkeypatch.setenv("LEDGER_WORK_MODE", "embedded")
    if settings.database_url:
        monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)


def test_ledger_work_until_idle_derives_and_projects_every_tenant(
    ledger: Ledger, settings: Settings, environment: None,
) -> None:
    ledger.record(tenant_events("acme", poison=False) + tenant_events("beta", poison=False))

    result = CliRunner().invoke(app, ["work", "--until-idle"])

    assert result.exit_code == 0, result.output
    for tenant in ("acme", "beta"):
        assert derived_position(ledger.store, tenant) > 0
    projections = Projections(ledger.store, store_name=settings.store_name)
    head = ledger.store.max_notification_id()
    assert all(status.position == head for status in projections.status())
    projections.drop()


def test_ledger_quarantine_lists_and_retries(ledger: Ledger, environment: None) -> None:
    ledger.record(tenant_events("acme", poison=True))
    engine(ledger, CrashingEvaluator()).run_until_idle()

    listed = CliRunner().invoke(app, ["quarantine", "list", "--tenant", "acme"])
    retried = CliRunner().invoke(app, ["quarantine", "retry", "--tenant", "acme"])

    assert listed.exit_code == 0 and "SO-BAD" in listed.output, listed.output
    assert retried.exit_code == 0 and "1 released" in retried.output, retried.output
    assert open_quarantines(ledger.store, "acme") == []
