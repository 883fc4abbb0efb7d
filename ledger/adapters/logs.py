"""Log records as JSON lines (or plain text) on stderr, for every process of the ledger.

The composition root (cli/root.py) installs the handler once per process; everything
else only logs to its own `logging.getLogger(...)`.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal, TextIO

import orjson

#: The name of the handler this module installs, so installing again replaces it
#: (and leaves alone handlers others put there, such as a test runner's).
HANDLER_NAME = "ledger"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO records are chatter (kafka-python logs every connection and
#: group step); they are written from WARNING on unless DEBUG is asked for.
CHATTY = ("kafka",)
#: Loggers that servers configure with handlers of their own; ours replaces them.
OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and `extra` fields."""

    converter = staticmethod(time.gmtime)

    # uvicorn's `color_message` repeats the message with terminal colour codes.
    _STANDARD = frozenset(
        vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
        | {"message", "asctime", "color_message"}
    )

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def install_log_handler(
    level: str, fmt: Literal["json", "text"], stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records at `level` and above to `stream` (stderr) in `fmt`.

    Replaces the handler installed by an earlier call, so calling it twice changes the
    level or format instead of writing each record twice."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = max(root.level, logging.WARNING) if root.level > logging.DEBUG else root.level
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
    for name in OWN_HANDLERS:  # uvicorn's default config gives these handlers of their own
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
