"""Ships schemas/ and examples/ in the wheel as ledger/data/ (ledger/resources.py finds them).

They stay at the repository's top for producers who never touch Python; the rest of the
build is configured in pyproject.toml.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Top-level folder -> what of it the wheel carries (the generator script stays behind).
SHIPPED = {"schemas": ("*.json", "*.yaml"), "examples": ("*.jsonl",)}


class BuildWithData(build_py):
    """build_py, plus the shipped folders copied under ledger/data/ of the build."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the repository's own folders
            return
        for folder in SHIPPED:
            target = Path(self.build_lib) / "ledger" / "data" / folder
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder, target, ignore=_all_but(SHIPPED[folder]))


def _all_but(patterns: tuple[str, ...]) -> Callable[[str, list[str]], set[str]]:
    """A copytree filter keeping folders (but caches) and files matching `patterns`."""

    def ignored(directory: str, names: list[str]) -> set[str]:
        def kept(name: str) -> bool:
            if Path(directory, name).is_dir():
                return name != "__pycache__"
            return any(Path(name).match(pattern) for pattern in patterns)

        return {name for name in names if not kept(name)}

    return ignored


setup(cmdclass={"build_py": BuildWithData})
