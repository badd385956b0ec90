"""Alembic migrations of the runflow store. Run with `runflow db upgrade` (or Store.migrate())."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revisions() -> frozenset[str]:
    """The newest revisions (Alembic's heads) of `versions/`, read from each file's `revision` and `down_revision`.

    Without importing Alembic (with Mako and Pygments ~10 MiB and ~0.1 s): a store already at head needs nothing
    of it (`Store.migrate`). Alembic's own answer is the same (tests/activities_impl/test_migrations.py).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = _assigned(path, ("revision", "down_revision"))
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str):
            continue
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):  # a merge revision
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


def _assigned(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The literal values assigned to `names` at the top level of a Python file (`x = ...` or `x: T = ...`)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found
