"""The domain is handed the time and new ids; it never takes them from the machine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "ledger" / "domain"
#: Calls that read the machine's clock or randomness.
IMPURE_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("uuid", "uuid4"), ("uuid", "uuid1"),
    ("random", "random"), ("os", "urandom"),
}


def _impure_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (name, node.func.attr) in IMPURE_CALLS:
                found.append(f"line {node.lineno}: {name}.{node.func.attr}()")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in {"uuid4", "uuid1"}):
            found.append(f"line {node.lineno}: {node.func.id}()")
    return found


@pytest.mark.parametrize(
    "module", sorted(DOMAIN.rglob("*.py")), ids=lambda p: str(p.relative_to(DOMAIN))
)
def test_a_domain_module_never_reads_the_clock_or_draws_random_ids(module: Path) -> None:
    assert _impure_calls(module.read_text(encoding="utf-8")) == []
