"""The root of the ledger's own exceptions.

Every error the ledger raises on purpose derives from `LedgerError`, so an edge (the HTTP
API, the command line, a consumer) can tell them from bugs and answer them one way:
`retryable` says whether the same request may succeed if sent again later (contention,
an outage of the store), `code` names the error in a form that never changes with its
message. Errors that callers also catch as a builtin (ValueError, KeyError, ...) keep
that base beside this one.
"""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    """An error the ledger raises on purpose; subclasses set `code` and `retryable`."""

    #: Stable, kebab-case name of the error (for logs and problem documents).
    code: ClassVar[str] = "ledger-error"
    #: Whether sending the same request again later may succeed.
    retryable: ClassVar[bool] = False
