"""The workflow modules' compiled code is shared between the sandbox's imports, and nothing else is."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from worker.sandbox import SharedCodeFinder, SharedCodeLoader

WORKFLOWS = str(Path(__file__).resolve().parents[2] / "workflows")


def fresh(finder: SharedCodeFinder, name: str, path: list[str]) -> ModuleType:
    """A new module object for `name`, executed as the sandbox does for every workflow run."""
    spec = finder.find_spec(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_import_runs_the_module_afresh_with_the_same_code():
    finder = SharedCodeFinder(["workflows"])
    first = fresh(finder, "workflows.activity_lifecycle", [WORKFLOWS])
    second = fresh(finder, "workflows.activity_lifecycle", [WORKFLOWS])
    assert isinstance(first.__loader__, SharedCodeLoader)
    assert first.ActivityLifecycleWorkflow is not second.ActivityLifecycleWorkflow  # own classes, own globals
    assert first.__dict__ is not second.__dict__
    run_first, run_second = first.ActivityLifecycleWorkflow.run, second.ActivityLifecycleWorkflow.run
    assert run_first is not run_second and run_first.__code__ is run_second.__code__  # one compiled copy


def test_other_packages_and_top_level_names_are_left_to_python():
    finder = SharedCodeFinder(["workflows"])
    assert finder.find_spec("workflows", None) is None
    assert finder.find_spec("domain.rules", [WORKFLOWS.replace("workflows", "domain")]) is None


def test_a_changed_file_is_read_again(tmp_path):
    package = tmp_path / "flows"
    package.mkdir()
    module = package / "one.py"
    module.write_text("VALUE = 1\n")
    finder = SharedCodeFinder(["flows"])
    assert fresh(finder, "flows.one", [str(package)]).VALUE == 1
    module.write_text("VALUE = 22\n")
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    assert fresh(finder, "flows.one", [str(package)]).VALUE == 22


def test_a_workflow_run_makes_no_class_but_the_workflow():
    """Every other class lives in a module passed through the sandbox (domain, workflows.lifecycle_data): defined in
    the workflow's module, a dataclass would be made again for every open activity (~9 KiB each, BENCHMARKS.md)."""
    module = fresh(SharedCodeFinder(["workflows"]), "workflows.activity_lifecycle", [WORKFLOWS])
    made_here = sorted(
        name for name, value in vars(module).items() if isinstance(value, type) and value.__module__ == module.__name__
    )
    assert made_here == ["ActivityLifecycleWorkflow"]
