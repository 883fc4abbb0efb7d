"""Read models of the ledger: views written from the ledger's entries with their
read position, a runner to catch them up or rebuild them, and the queries the API asks.

`runner` (catch up, rebuild, status, live worker), `views` (the library's tracking
recorders with tables), `schema` (table declarations), one module per projection, `reads`
(tenant-scoped queries), `cli` (`ledger projections ...`).
"""
