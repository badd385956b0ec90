"""What a `runflow` command imports: only what it uses, so that the CLI answers at once and a worker stays small.

Behaviour, not timing: each case runs in a fresh interpreter and lists the heavy packages in its `sys.modules`
afterwards. (How long the commands take is a benchmark: `python -m bench --only cli`, BENCHMARKS.md.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]

# Packages that cost tenths of a second or megabytes to import, none of which `runflow --help` needs (rich, with
# markdown-it and Pygments, only draws boxes around help).
HEAVY = {
    "activities_impl",
    "alembic",
    "api",
    "authlib",
    "cryptography",
    "email_validator",
    "fastapi",
    "icalendar",
    "jinja2",
    "markdown_it",
    "matplotlib",
    "openpyxl",
    "pydantic",
    "pydantic_settings",
    "pygments",
    "rich",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "structlog",
    "temporalio",
    "uvicorn",
    "worker",
    "workflows",
    "yaml",
}
# What none of the CLI's Temporal and store commands use, nor a worker: the web, the back-office's sign-in and
# spreadsheets, the report's chart, and Alembic once the store is at head.
NEVER = {"alembic", "authlib", "fastapi", "matplotlib", "openpyxl", "starlette", "uvicorn"}


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages in `sys.modules` once `code` has run in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, os as _os, sys as _sys
        print(_json.dumps(sorted({name.partition(".")[0] for name in _sys.modules})), flush=True)
        _os._exit(0)  # as the console script ends: the Temporal client's runtime thread may not outlive finalizing
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def cli(*args: str) -> str:
    """Code that runs `runflow ARGS` in this process (as the console script does, without its os._exit)."""
    return f"""
        from runflow.cli import app
        try:
            app({list(args)!r})
        except SystemExit:
            pass
        """


def test_help_imports_nothing_heavy():
    assert loaded_after(cli("--help")) & HEAVY == set()


@pytest.mark.parametrize(
    "args", [["activity", "--help"], ["decide", "--help"], ["staff", "add", "--help"]], ids=" ".join
)
def test_a_command_s_help_imports_nothing_heavy_but_what_typer_uses(args):
    # typer builds a command's parameters with pydantic (typer._adapters): its own, not runflow's.
    assert loaded_after(cli(*args)) & HEAVY == {"pydantic"}


def test_activity_show_imports_the_client_and_the_store_only(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RUNFLOW_", "TEMPORAL_"))},
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nobody listens: it exits 1 once it has tried
        "RUNFLOW_DATA_DIR": str(tmp_path),
    }
    loaded = loaded_after(cli("activity", "show", "x", "--json"), env)
    assert {"temporalio", "sqlalchemy"} <= loaded  # it did get as far as connecting
    assert loaded & NEVER == set()


def test_a_worker_imports_neither_the_web_nor_alembic_once_the_store_is_at_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'runflow.db'}"
    loaded_after(f"from activities_impl.store import Store; Store({url!r}).migrate()")  # at head from here on
    loaded = loaded_after(
        f"""
        import runflow.cli
        from worker.wiring import open_store, run_worker_forever  # and what run_worker_forever imports:
        import structlog, worker.client, worker.logs, worker.worker
        from worker.settings import Settings
        open_store(Settings(database_url={url!r}), migrate=True)
        """
    )
    assert {"temporalio", "sqlalchemy", "workflows", "activities_impl"} <= loaded
    assert loaded & NEVER == set()


def test_the_decisions_the_cli_offers_are_the_workflow_s():
    # `runflow decide` names them without importing domain.lifecycle (pydantic) for its arguments.
    from domain.lifecycle import OverrideAction
    from runflow.cli import DecisionName

    assert get_args(DecisionName) == tuple(a.value for a in OverrideAction)
