"""`runflow year report YEAR --out DIR`: the annual report's DOCX and CSVs from the store, no Temporal."""

from __future__ import annotations

import os
from pathlib import Path

import docx
import pytest

from activities_impl.store import Store
from tests.api.test_cli import one_error_line, one_json_object, run
from tests.support.annual_year import build_year
from tests.support.ports import free_port
from worker.settings import get_settings


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """A migrated store with the reference data and the 2020 year of `tests.support.annual_year`."""
    data_dir = tmp_path / "var"
    for name in list(os.environ):
        if name.startswith(("RUNFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    data_dir.mkdir(parents=True)
    assert run("db", "upgrade").exit_code == 0
    store = Store(get_settings().effective_database_url)
    build_year(store)
    store.engine.dispose()
    yield data_dir
    get_settings.cache_clear()


def test_the_report_is_written(env, tmp_path):
    out = tmp_path / "rapport"
    result = run("year", "report", "2020", "--out", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json_object(result.stdout)
    assert data["files"][0] == "verksamhetsrapport-2020.docx" and len(data["files"]) == 8
    assert sorted(p.name for p in out.iterdir()) == sorted(data["files"])
    assert (data["activities"], data["ran"], data["cancelled"], data["postponed"]) == (10, 7, 2, 1)
    assert data["budget_ore"] == 925_000_00 and data["outcome_ore"] == 217_250_00
    document = docx.Document(str(out / "verksamhetsrapport-2020.docx"))
    assert document.paragraphs[0].text == "Verksamhetsrapport 2020"

    human = run("year", "report", "2020", "--out", str(out))  # again, into the same directory
    assert human.exit_code == 0, human.stderr
    assert human.stdout.startswith(f"wrote {out / 'verksamhetsrapport-2020.docx'} and 7 CSV files: 10 activities")
    assert "budget 925 000 kr, outcome 217 250 kr" in human.stdout


def test_bad_input_is_one_line(env, tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert one_error_line(run("year", "report", "2020", "--out", str(afile))) == f"error: {afile}: not a directory"
    assert run("year", "report", "1999", "--out", str(tmp_path)).exit_code == 2
    assert run("year", "report", "2020").exit_code == 2  # --out is required
