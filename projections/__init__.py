"""Read models of the ledger: views written from the ledger's entries with their read
position, a runner to catch them up or rebuild them, and the one read API over them.

`runner` (catch up, rebuild, status, live worker); `base` (the projections' common
interface) and one module per projection; `views` (a view's interface: what projections
write and queries read through), `sql_view`, `sqlite_view`, `postgres_view`, `row_codec`
(the library's tracking recorders with tables) and `schema` (table declarations);
`reads` (`ReadModels`, the tenant-scoped queries: the only way the API and the command
line read the views); `documents` (the evidence document and the unit report, built once
for HTTP and the command line).
"""
