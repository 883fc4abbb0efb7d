"""Who was responsible for what, as pure functions: docs/domain-rules.md, Derived entries
and Semantics.

Facts (inbound events) and the tenant's effective-dated org chart and definitions go in;
verdicts (violations, obligations, deadline misses, liabilities, fulfilled duties) and the
case's responsibility chain come out. Nothing here reads a clock or a database: the
watermark is handed in, so replaying history gives the verdicts living through it gave.
"""
