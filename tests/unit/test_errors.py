"""Every exception the ledger raises on purpose is a LedgerError with a stable code."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import ledger
import projections
from ledger.adapters.store import AppendConflict, StoreUnavailable
from ledger.adapters.strict_json import InvalidJson
from ledger.application.recording import AlreadyTracked, LedgerUnavailable
from ledger.errors import LedgerError


def _exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (ledger, projections):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            loaded = importlib.import_module(module.name)
            for _, value in inspect.getmembers(loaded, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == module.name:
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_exception_class_of_the_ledger_and_its_read_side_is_a_ledger_error() -> None:
    exceptions = _exceptions()

    assert len(exceptions) >= 10
    assert [e.__qualname__ for e in exceptions if not issubclass(e, LedgerError)] == []


def test_each_ledger_error_has_a_code_of_its_own_in_kebab_case() -> None:
    codes = [e.code for e in _exceptions() if issubclass(e, LedgerError) and e is not LedgerError]

    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", code) for code in codes), codes


@pytest.mark.parametrize("error", [LedgerUnavailable, AppendConflict, StoreUnavailable])
def test_contention_and_store_outages_are_retryable(error: type[LedgerError]) -> None:
    assert error.retryable


def test_a_refusal_is_not_retryable_and_keeps_the_builtin_its_callers_catch() -> None:
    assert not AlreadyTracked.retryable and not InvalidJson.retryable
    with pytest.raises(ValueError, match="not JSON"):
        raise InvalidJson("not JSON")
