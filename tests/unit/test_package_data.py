"""The wheel carries the contract's schemas and the worked examples under ledger/data/,
where ledger/resources.py looks first, so an installed ledger validates without the
repository at hand."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
#: What the build needs; the rest of the repository (and any build debris) stays behind.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
           "ledger", "projections", "consumers", "api", "cli", "schemas", "examples")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a copy of the sources, as `pip wheel` builds it for a release."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in SOURCES:
        origin = REPOSITORY / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        elif origin.exists():
            shutil.copy2(origin, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(source), "-w", str(tmp / "dist")],
        check=True, capture_output=True, timeout=300,
    )
    [built] = (tmp / "dist").glob("accountability_ledger-*.whl")
    return zipfile.ZipFile(built)


def _files(root: Path, pattern: str) -> set[str]:
    return {p.relative_to(root.parent).as_posix() for p in root.rglob(pattern) if p.is_file()}


def test_the_wheel_holds_every_schema_under_ledger_data(wheel: zipfile.ZipFile) -> None:
    shipped = {n.removeprefix("ledger/data/") for n in wheel.namelist()
               if n.startswith("ledger/data/schemas/")}
    schemas = REPOSITORY / "schemas"

    assert shipped == _files(schemas, "*.json") | _files(schemas, "*.yaml")
    assert "schemas/types.json" in shipped and "schemas/envelope.schema.json" in shipped


def test_the_wheel_holds_the_worked_examples_as_in_the_repository(
    wheel: zipfile.ZipFile,
) -> None:
    shipped = wheel.read("ledger/data/examples/worked-examples.jsonl")

    assert shipped == (REPOSITORY / "examples" / "worked-examples.jsonl").read_bytes()


def test_the_wheel_ships_no_code_as_data(wheel: zipfile.ZipFile) -> None:
    data = [n for n in wheel.namelist() if n.startswith("ledger/data/")]

    assert not [n for n in data if n.endswith((".py", ".pyc"))]
