"""cli/root.py alone reads the settings from the environment and configures the logs."""

from __future__ import annotations

import ast
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from cli.root import configure_logging, load_settings
from ledger.adapters.logs import HANDLER_NAME, install_log_handler
from ledger.config import Settings

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "api", "projections", "consumers", "cli")
ROOT = Path("cli/root.py")


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def _reads_environment(call: ast.Call) -> bool:
    """`Settings()` (or `config.Settings()`) with no arguments: the environment decides."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(
        func, ast.Attribute) else None
    return name == "Settings" and not call.args and not call.keywords


def test_a_settings_call_without_arguments_is_made_only_in_the_composition_root() -> None:
    readers = {
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        if isinstance(node, ast.Call) and _reads_environment(node)
    }

    assert readers, "the composition root reads the settings somewhere"
    assert {r for r in readers if not r.startswith(f"{ROOT}:")} == set()


def test_the_composition_root_reads_the_settings_once_and_again_when_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("LEDGER_HOME", str(tmp_path / "a"))
    first, again = load_settings(), load_settings()
    monkeypatch.setenv("LEDGER_HOME", str(tmp_path / "b"))
    changed = load_settings()

    assert first is again
    assert (first.home, changed.home) == (tmp_path / "a", tmp_path / "b")


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was (pytest's own handlers included)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # Commands run in-process by earlier tests leave their handler and logger levels behind.
    root.handlers[:] = [h for h in handlers if h.get_name() != HANDLER_NAME]
    for name in ("uvicorn.error", "consumers.consume"):
        logger = logging.getLogger(name)
        logger.disabled, logger.propagate = False, True
        logger.setLevel(logging.NOTSET)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configuring_the_logs_twice_leaves_one_handler_and_the_others_in_place(
    root_logger: logging.Logger,
) -> None:
    others = list(root_logger.handlers)
    configure_logging(Settings(log_level="WARNING"))
    configure_logging(Settings(log_level="DEBUG", log_format="text"))

    ours = [h for h in root_logger.handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1 and isinstance(ours[0].formatter, logging.Formatter)
    assert [h for h in root_logger.handlers if h not in ours] == others
    assert root_logger.level == logging.DEBUG


def test_every_logger_writes_json_lines_through_the_one_handler(
    root_logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    install_log_handler("INFO", "json", stream)

    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("consumers.consume").warning("batch failed", extra={"partition": 3})
    logging.getLogger("kafka.conn").info("connecting")  # a library's chatter, below WARNING

    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["level"], line["msg"]) for line in lines] == [
        ("uvicorn.error", "info", "Started server process"),
        ("consumers.consume", "warning", "batch failed"),
    ]
    assert lines[1]["partition"] == 3


def test_the_log_settings_accept_any_case_and_refuse_unknown_values() -> None:
    settings = Settings.model_validate({"log_level": "debug", "log_format": "TEXT"})

    assert (settings.log_level, settings.log_format, settings.retry_after_s) == (
        "DEBUG", "text", 1)
    with pytest.raises(ValueError, match="log_format"):
        Settings.model_validate({"log_format": "xml"})
