"""Missing system programs FAIL the tests that need them, naming the install step.

`make test` installs every program the tests drive (scripts/install-system-deps.sh) and
the Python test extras (``pip install -e '.[test]'``), so a missing one is a broken
setup to fix, never a reason to skip: a skip would let `make test` pass while testing
less than it says.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

INSTALL_STEP = "`make test` installs it (scripts/install-system-deps.sh)"
PYTHON_INSTALL_STEP = "`make test` installs it (pip install -e '.[test]')"


def missing(what: str, install_step: str = INSTALL_STEP) -> NoReturn:
    pytest.fail(f"{what} is missing: {install_step}", pytrace=False)


def require_program(name: str) -> str:
    """The program's path on PATH; fails the test when it is not there."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} (not on PATH)")
    return path


CHROMIUM = Path("/usr/bin/chromium")


def optional_module(name: str) -> ModuleType | None:
    """``name`` imported, or None when it is not installed: a module-level import that
    `require_browser` (or the like) then fails inside each test, with the install step,
    instead of one collection error that stops the whole run."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def require_browser(chromium: Path | str = CHROMIUM) -> None:
    """The web control's browser tests: playwright (Python) driving the system Chromium."""
    if importlib.util.find_spec("playwright") is None:
        missing("playwright (Python)", PYTHON_INSTALL_STEP)
    if not Path(chromium).exists():
        missing(f"chromium ({chromium})")
