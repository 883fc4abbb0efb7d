"""Fixtures shared by the integration tests: an API over a store with the worked examples,
and a signing key with a sealer that checkpoints as events are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.queries import ReadSide
from ledger.adapters.signing import Signer
from ledger.application.recording import Ledger
from ledger.application.sealing import Sealer
from ledger.config import Settings
from projections.runner import Projections
from tests.support.api import LATENESS, Service, worked_examples
from tests.support.clock import FixedClock


@pytest.fixture
def service(ledger: Ledger, settings: Settings) -> Iterator[Service]:
    projections = Projections(ledger.store, store_name=settings.store_name, lateness=LATENESS)
    app = create_app(ledger, read_side=ReadSide(ledger, projections=projections))
    with TestClient(app) as client:
        yield Service(ledger, settings, client, projections)
    projections.drop()


@pytest.fixture
def worked(service: Service) -> Service:
    service.ingest(worked_examples())
    service.settle()
    return service


@pytest.fixture
def signer() -> Signer:
    return Signer("api-key", Ed25519PrivateKey.generate())


@pytest.fixture
def sealer(ledger: Ledger, signer: Signer, clock: FixedClock) -> Sealer:
    """Checkpoints every 4 entries (or hourly), as the ledger appends."""
    sealer = Sealer(ledger.store, signer, clock, 4, timedelta(hours=1))
    ledger.after_append.append(sealer.after_append)
    return sealer
