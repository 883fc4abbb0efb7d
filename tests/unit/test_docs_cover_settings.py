"""Every setting is documented where operators look for it, so the docs cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import Settings

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_each_setting_has_its_environment_variable_in_the_operations_guide(field: str) -> None:
    assert f"LEDGER_{field.upper()}" in OPERATIONS.read_text(encoding="utf-8")
