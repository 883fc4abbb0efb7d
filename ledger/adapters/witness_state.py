"""A witness's memory on disk: the last checkpoint it cosigned, one file per log origin.

Each file is the signed note exactly as verified, written atomically (temporary file,
fsync, rename), so a crash leaves the old checkpoint or the new, never half of one.
`ledger verify --witness-state DIR` reads the same files.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ledger.domain.signed_note import TreeHead, parse_note, parse_tree_head

SUFFIX = ".checkpoint"


def _file_name(origin: str) -> str:
    return base64.urlsafe_b64encode(origin.encode("utf-8")).decode("ascii") + SUFFIX


class WitnessStateDir:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def last(self, origin: str) -> TreeHead | None:
        path = self.folder / _file_name(origin)
        if not path.exists():
            return None
        return parse_tree_head(parse_note(path.read_text(encoding="utf-8")).text)

    def keep(self, origin: str, note: str) -> None:
        path = self.folder / _file_name(origin)
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as fh:
            fh.write(note)
            fh.flush()
            os.fsync(fh.fileno())
        temporary.replace(path)

    def notes(self) -> list[str]:
        """Every checkpoint kept, as signed notes (for verification against the ledger)."""
        return [p.read_text(encoding="utf-8") for p in sorted(self.folder.glob("*" + SUFFIX))]
