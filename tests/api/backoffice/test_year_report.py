"""The annual report in the back-office (`/admin/year/<year>/verksamhetsrapport`): the page, the DOCX and the ZIP of
the DOCX and CSVs, for staff (viewers too: counts only); anonymous visitors are sent to sign in."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from fastapi.testclient import TestClient

from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.staff import Role
from tests.support.annual_year import build_year
from tests.support.backoffice import sign_in

PAGE = "/admin/year/2020/verksamhetsrapport"


@pytest.fixture
def client(sqlite_store) -> TestClient:
    build_year(sqlite_store)
    app = create_app(sqlite_store, secret_key="k" * 40, backoffice=BackOfficeConfig())
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.VIEWER])
def test_staff_see_the_report_and_download_it(client, sqlite_store, role):
    sign_in(client, sqlite_store, "kerstin@miun.se", role)
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    text = page.text
    assert "Verksamhetsrapport 2020" in text and "Mentor i förskola och skola" in text
    assert "10 aktiviteter: 7 genomförda, 2 inställda, 1 flyttade" in text
    assert "Inställd: för få anmälda (3 anmälda, minst 8 behövdes)." in text
    assert "Kommuner utan deltagare: Härjedalen, Ånge." in text
    assert f'href="{PAGE}.docx"' in text and f'href="{PAGE}.zip"' in text

    word = client.get(f"{PAGE}.docx")
    assert word.status_code == 200
    assert word.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert "verksamhetsrapport-2020.docx" in word.headers["content-disposition"]
    document = docx.Document(io.BytesIO(word.content))
    assert document.paragraphs[0].text == "Verksamhetsrapport 2020"
    assert any(t.rows[0].cells[0].text == "Vad" for t in document.tables)

    bundle = client.get(f"{PAGE}.zip")
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert "verksamhetsrapport-2020.docx" in names and "verksamhetsrapport-2020-handlingsplan-ekonomi.csv" in names
    assert len(names) == 8


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in (PAGE, f"{PAGE}.docx", f"{PAGE}.zip"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/admin/signin")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/year/1999/verksamhetsrapport",
        "/admin/year/20x0/verksamhetsrapport",
        "/admin/year/٢٠٢٠/verksamhetsrapport",
        "/admin/year/2020/verksamhetsrapport.pdf",
        "/admin/year/99999/verksamhetsrapport.docx",
    ],
)
def test_bad_years_and_files_are_404(client, sqlite_store, path):
    sign_in(client, sqlite_store)
    assert client.get(path).status_code == 404
