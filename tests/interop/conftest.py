"""The integration fixtures (an API over a store, a signing key, a sealer) for interop tests."""

from tests.integration.conftest import sealer, service, signer, worked

__all__ = ["sealer", "service", "signer", "worked"]
