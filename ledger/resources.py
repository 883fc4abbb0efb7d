"""Where the contract's machine form (schemas/) and the worked examples (examples/) are.

They live at the repository's top so that producers can read them without Python; the
wheel ships them as package data of `ledger` (see pyproject.toml), and both layouts
are looked up here, in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

_PACKAGE: Final[Path] = Path(__file__).resolve().parent
_REPOSITORY: Final[Path] = _PACKAGE.parent


def _located(name: str) -> Path:
    shipped = _PACKAGE / "data" / name
    return shipped if shipped.is_dir() else _REPOSITORY / name


SCHEMAS_DIR: Final[Path] = _located("schemas")
EXAMPLES_DIR: Final[Path] = _located("examples")
WORKED_EXAMPLES: Final[Path] = EXAMPLES_DIR / "worked-examples.jsonl"
