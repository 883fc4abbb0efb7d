"""Adapters: where the ledger meets storage, brokers and the outside world."""
