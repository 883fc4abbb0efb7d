"""The edge every process starts from: the `ledger` command and the composition root."""
