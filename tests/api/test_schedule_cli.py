"""`runflow schedule ...` without a Temporal server: bad input exits 2 with one line before anything connects, an
unreachable server exits 1. (With a server: tests/integration/test_round_schedules.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.api.test_cli import ROOT, env, one_error_line, run  # noqa: F401 - the fixture

BAD = {
    "neither": (["create", "kurs-x"], "either --every"),
    "both": (["create", "kurs-x", "--every", "26w", "--calendar", "hour=8"], "either --every"),
    "every too short": (["create", "kurs-x", "--every", "12h"], "shorter than a day"),
    "every not a duration": (["create", "kurs-x", "--every", "ofta"], "--every: bad duration"),
    "every too long": (["create", "kurs-x", "--every", "600w"], "longer than ten years"),
    "first without every": (
        ["create", "kurs-x", "--calendar", "hour=8", "--first", "2027-01-15T08:00+01:00"],
        "--first",
    ),
    "first without offset": (["create", "kurs-x", "--every", "26w", "--first", "2027-01-15T08:00"], "--first"),
    "calendar twice a day": (["create", "kurs-x", "--calendar", "hour=8,14"], "one value"),
    "calendar unknown field": (["create", "kurs-x", "--calendar", "veckodag=2"], "unknown field"),
    "calendar out of range": (["create", "kurs-x", "--calendar", "month=13"], "outside 1-12"),
    "calendar too long": (["create", "kurs-x", "--calendar", "month=1 " * 50], "more than 200 characters"),
    "calendar with a newline": (["create", "kurs-x", "--calendar", "hour=8\nmonth=1"], "name=values"),
    "bad template id": (["create", "Kurs X", "--every", "26w"], "neither a template's id"),
    "note with an address": (["create", "kurs-x", "--every", "26w", "--note", "fråga pia@skola.se"], "e-mail"),
    "note too long": (["pause", "kurs-x", "--note", "x" * 201], "more than 200 characters"),
    "note on two lines": (["resume", "kurs-x", "--note", "a\nb"], "one line"),
    "bad id to pause": (["pause", "../etc"], "neither a template's id"),
    "bad id to trigger": (["trigger", "x" * 100], "neither a template's id"),
    "bad id to delete": (["delete", "rounds-"], "neither a template's id"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line(env, case):  # noqa: F811 - the fixture
    args, why = BAD[case]
    line = one_error_line(run("schedule", *args))
    assert why in line, line


@pytest.mark.parametrize("args", [["list"], ["pause", "kurs-x"], ["trigger", "rounds-kurs-x"], ["delete", "kurs-x"]])
def test_an_unreachable_server_exits_1(env, args):  # noqa: F811 - the fixture
    line = one_error_line(run("schedule", *args), code=1)
    assert "cannot reach Temporal" in line


@pytest.mark.parametrize("args", [["schedule", "--help"], ["schedule", "create", "--help"]], ids=" ".join)
def test_the_schedule_commands_help_imports_neither_temporal_nor_the_store(args):
    """As every command of `runflow.cli`: the heavy parts are imported when a command runs (typer uses pydantic)."""
    script = "\n".join(
        [
            "import sys",
            "from runflow.cli import app",
            "try:",
            f"    app({args!r})",
            "except SystemExit:",
            "    pass",
            "print(' '.join(sorted({m.partition('.')[0] for m in sys.modules})))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.splitlines()[-1].split())
    heavy = {"activities_impl", "api", "sqlalchemy", "sqlmodel", "temporalio", "worker", "workflows", "yaml", "fastapi"}
    assert loaded & heavy == set()
