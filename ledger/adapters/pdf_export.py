"""Evidence and unit reports as PDF, and the CJK font every PDF of the ledger is set in.

The documents themselves are laid out by report_rendering.py (on sheets.py's `pdf`); here
the font they need, found on this machine or named by LEDGER_PDF_FONT.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ledger.adapters.export_cells import RowProgress
from ledger.errors import LedgerError

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FONT_NAME = "LedgerCJK"


class FontMissing(LedgerError, RuntimeError):
    """No CJK TrueType font: Chinese names would not render, so no PDF is made."""

    code = "font-missing"


def cjk_font_path() -> Path:
    override = os.environ.get("LEDGER_PDF_FONT")
    for candidate in ([override] if override else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "no CJK TrueType font found for PDF exports: install Debian's fonts-wqy-zenhei "
        "(deploy/local/fonts.sh) or set LEDGER_PDF_FONT to a .ttf/.ttc file"
    )


def register_font() -> None:
    """Register FONT_NAME with reportlab (once per process)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(cjk_font_path()), subfontIndex=0))


def evidence_pdf(doc: Mapping[str, Any], progress: RowProgress | None = None) -> bytes:
    """Localized, explained, paginated (ledger/adapters/report_rendering.py)."""
    from ledger.adapters.report_rendering import evidence_pdf as render

    return render(doc, progress)


def units_pdf(doc: Mapping[str, Any]) -> bytes:
    from ledger.adapters.report_rendering import units_pdf as render

    return render(doc)
