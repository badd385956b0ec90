"""Sandboxed workflows share their modules' compiled code.

Temporal's sandbox imports a workflow's module afresh for every workflow run it keeps (so that no run sees
another's module state): the module's code runs again into new globals, new classes and functions. With Python's
own loader each of those imports also reads the module's .pyc and unmarshals its code objects again: ~90 KiB per
open activity for `workflows/activity_lifecycle.py`, more than half of what an open activity costs the worker above
a bare Temporal workflow's (BENCHMARKS.md, finding 4), and CPU for every workflow that enters the cache.

Code objects are immutable, so one copy can serve every run: `share_workflow_code` puts a finder before Python's
that loads the modules of the workflow packages with a loader unmarshalling each file once per process (again only
when the file changes). What a workflow sees is unchanged: its module is still executed afresh for every run.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType

WORKFLOW_PACKAGES = ("workflows",)


class SharedCodeLoader(importlib.machinery.SourceFileLoader):
    """A source file loader whose compiled code is read once per process, per file version."""

    _codes: dict[tuple[str, int, int], CodeType] = {}
    _lock = threading.Lock()

    def get_code(self, fullname: str) -> CodeType:
        stat = os.stat(self.path)
        key = (self.path, stat.st_mtime_ns, stat.st_size)
        code = self._codes.get(key)
        if code is None:
            loaded = super().get_code(fullname)
            assert loaded is not None  # a source file always has code
            with self._lock:
                code = self._codes.setdefault(key, loaded)
        return code


class SharedCodeFinder:
    """Finds the submodules of `packages` as Python does (`PathFinder`), and loads them with `SharedCodeLoader`."""

    def __init__(self, packages: Sequence[str]):
        self.packages = tuple(packages)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is None or fullname.partition(".")[0] not in self.packages:
            return None  # a top-level name, or not a workflow package: the other finders decide
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return spec
        spec.loader = SharedCodeLoader(spec.loader.name, spec.loader.path)
        return spec


def share_workflow_code(packages: Sequence[str] = WORKFLOW_PACKAGES) -> None:
    """Install the finder (once per process): every later import of the packages' modules shares their code."""
    if not any(isinstance(finder, SharedCodeFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SharedCodeFinder(packages))
