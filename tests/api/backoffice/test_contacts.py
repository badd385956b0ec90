"""The organisations' invitation contacts in the back-office: the list and its filters, adding (with each problem next
to its field), changing, removing with a confirmation step, importing a CSV or Excel list through a preview; viewers
read only, forms without the CSRF token change nothing."""

from __future__ import annotations

import io
import re
import time
from html import unescape

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from api.backoffice import BackOfficeConfig
from api.web import create_app
from domain.contacts import (
    BAD_EMAIL,
    CONTROL,
    DUPLICATE,
    EMAIL_TOO_LONG,
    NAME_TOO_LONG,
    UNKNOWN_ORGANISATION,
    UNKNOWN_TARGET_GROUP,
)
from domain.staff import Role
from tests.support.backoffice import csrf_of, post_form, sign_in

CONTACTS = "/admin/contacts"


@pytest.fixture
def client(store) -> TestClient:
    app = create_app(store, secret_key="k" * 40, backoffice=BackOfficeConfig())
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def everything(store) -> set[tuple[str, str | None, str, str]]:
    return {(c.organisation_id, c.target_group, c.name, c.email) for c in store.contact_list()}


def text(html: str) -> str:
    """The page's text, tags removed, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def error_at(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def seeded(store, org: str, group: str | None = None):
    return next(c for c in store.contact_list(org) if c.target_group == group)


# -- the list ----------------------------------------------------------------------------------------------------------
def test_viewers_see_the_contacts_by_organisation_but_no_forms(client, store):
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    page = client.get(CONTACTS)
    assert page.status_code == 200
    html = page.text
    assert "<caption>Sundsvalls kommun</caption>" in html and "<caption>Bergs kommun</caption>" in html
    assert "Katarina Engström" in html and "katarina.engstrom@sundsvall.example.se" in html
    assert '<th scope="col">Målgrupp</th>' in html and '<th scope="row">Katarina Engström</th>' in html
    assert 'action="/admin/contacts"' not in html.replace('method="get" action="/admin/contacts"', "")
    assert "/edit" not in html and "/remove" not in html and "Bekräfta import" not in html


def test_the_list_filters_by_organisation_and_target_group(client, store):
    sign_in(client, store)
    sundsvall = text(client.get(CONTACTS, params={"organisation": "sundsvall"}).text)
    assert "Katarina Engström" in sundsvall and "Maria Lindqvist" not in sundsvall
    assert "5 av 39 kontakter" in sundsvall
    # a target group: those its invitations go to (its own contacts and those for every target group)
    rektor = text(client.get(CONTACTS, params={"organisation": "sundsvall", "target_group": "rektor"}).text)
    assert "Johanna Eriksson" in rektor and "Katarina Engström" in rektor and "Fredrik Sundqvist" not in rektor
    every = text(client.get(CONTACTS, params={"target_group": "*"}).text)
    assert "Katarina Engström" in every and "Johanna Eriksson" not in every
    nonsense = client.get(CONTACTS, params={"organisation": "x" * 5000, "target_group": "<script>"})
    assert nonsense.status_code == 200 and "39 av 39 kontakter" in text(nonsense.text)


def test_organisations_without_contacts_are_named(client, store):
    sign_in(client, store)
    store.remove_contact(seeded(store, "berg").id)
    html = text(client.get(CONTACTS).text)
    assert "Organisationer utan kontakter får inga inbjudningar: Bergs kommun" in html


# -- one contact -------------------------------------------------------------------------------------------------------
GOOD = {"organisation": "berg", "target_group": "rektor", "name": "Lars Holm", "email": " Lars.Holm@Berg.Example.se "}


def test_a_coordinator_adds_a_contact(client, store):
    sign_in(client, store)
    response = post_form(client, CONTACTS, CONTACTS, GOOD)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/contacts?organisation=berg&klart=tillagd#kontakter"
    assert ("berg", "rektor", "Lars Holm", "lars.holm@berg.example.se") in everything(store)
    page = client.get(response.headers["location"])
    assert "Kontakten är tillagd." in page.text and "Lars Holm" in page.text
    every = client.post(
        CONTACTS, data={"csrf_token": csrf_of(page.text), **GOOD, "target_group": ""}, follow_redirects=False
    )
    assert every.status_code == 303  # the same person for every target group is another contact
    assert ("berg", None, "Lars Holm", "lars.holm@berg.example.se") in everything(store)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "lars.holm(at)berg.se"}, "email", BAD_EMAIL),
        ({"email": "lars@" + "b" * 250 + ".se"}, "email", EMAIL_TOO_LONG),
        ({"name": "L" * 201}, "name", NAME_TOO_LONG),
        ({"name": "Lars\x1b[31mHolm"}, "name", CONTROL),
        ({"email": "lars@berg.se\nBcc: alla@berg.se"}, "email", CONTROL),
        ({"organisation": "stockholm"}, "organisation", UNKNOWN_ORGANISATION),
        ({"target_group": "astronaut"}, "target_group", UNKNOWN_TARGET_GROUP),
        (
            {"organisation": "sundsvall", "target_group": "", "email": "katarina.engstrom@sundsvall.example.se"},
            "email",
            DUPLICATE,
        ),
    ],
)
def test_bad_input_is_named_next_to_its_field_and_changes_nothing(client, store, changes, field, message):
    sign_in(client, store)
    before = everything(store)
    response = post_form(client, CONTACTS, CONTACTS, {**GOOD, **changes})
    assert response.status_code == 422
    assert error_at(response.text, field) == message
    assert f'aria-describedby="{field}-error"' in response.text or f"{field}-hint {field}-error" in response.text
    assert f'<a href="#{field}">{message}</a>' in unescape(response.text)  # the summary leads to the field
    assert everything(store) == before
    if field != "name":
        assert 'value="Lars Holm"' in response.text  # what was typed stays in the form


def test_a_coordinator_changes_a_contact(client, store):
    sign_in(client, store)
    contact = seeded(store, "are")
    page = client.get(f"{CONTACTS}/{contact.id}/edit")
    assert page.status_code == 200 and 'value="Emma Jonsson"' in page.text
    assert '<option value="are" selected>' in page.text
    response = client.post(
        f"{CONTACTS}/{contact.id}/edit",
        data={"csrf_token": csrf_of(page.text), **fields(contact), "name": "Emma Jonsson Ek", "target_group": "lärare"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and "klart=andrad" in response.headers["location"]
    changed = store.contact(contact.id)
    assert (changed.name, changed.target_group, changed.email) == ("Emma Jonsson Ek", "lärare", contact.email)
    # into another contact's place: refused at the e-mail field
    other = seeded(store, "are", "rektor")
    clash = client.post(
        f"{CONTACTS}/{contact.id}/edit",
        data={"csrf_token": csrf_of(page.text), **fields(contact), "email": other.email, "target_group": "rektor"},
    )
    assert clash.status_code == 422 and error_at(clash.text, "email") == DUPLICATE
    assert store.contact(contact.id).email == contact.email
    assert client.get(f"{CONTACTS}/999999/edit").status_code == 404
    assert client.get(f"{CONTACTS}/nonsense/edit").status_code == 404


def fields(contact) -> dict[str, str]:
    return {
        "organisation": contact.organisation_id,
        "target_group": contact.target_group or "",
        "name": contact.name,
        "email": contact.email,
    }


def test_removing_asks_first_then_removes(client, store):
    sign_in(client, store)
    contact = seeded(store, "sundsvall", "rektor")
    page = client.get(f"{CONTACTS}/{contact.id}/remove")
    assert page.status_code == 200
    shown = text(page.text)
    assert (
        "Vill du ta bort den här kontakten?" in shown and "Johanna Eriksson" in shown and "Sundsvalls kommun" in shown
    )
    assert store.contact(contact.id) is not None  # opening the page removes nothing
    response = client.post(
        f"{CONTACTS}/{contact.id}/remove", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303 and "klart=borttagen" in response.headers["location"]
    assert store.contact(contact.id) is None
    again = client.post(f"{CONTACTS}/{contact.id}/remove", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 404 and "Kontakten finns inte" in again.text


# -- import ------------------------------------------------------------------------------------------------------------
CSV = (
    "Organisation;Målgrupp;Namn;E-post\n"
    "Sundsvall;;Katarina Engström;katarina.engstrom@sundsvall.example.se\n"  # in place already
    "Sundsvalls kommun;rektor;Johanna Eriksson Berg;johanna.eriksson@sundsvall.example.se\n"  # a new name
    "Sundsvall;lärare;Pia Lärk;pia.lark@sundsvall.example.se\n"  # new
    "Atlantis;;Nemo;nemo@atlantis.example.se\n"  # row 5: unknown organisation
    "Berg;;Nils Berg;inte-en-adress\n"  # row 6: bad address
    "Berg;astronaut;Nils Berg;nils.berg@berg.example.se\n"  # row 7: unknown target group
).encode()


def upload(client, data: bytes, mode: str | None, filename: str = "kontakter.csv"):
    page = client.get(CONTACTS)
    form = {"csrf_token": csrf_of(page.text)} | ({"mode": mode} if mode else {})
    return client.post(f"{CONTACTS}/import", data=form, files={"file": (filename, data, "application/octet-stream")})


def preview_token(html: str) -> str:
    found = re.search(r'<input type="hidden" name="preview" value="([^"]+)">', html)
    assert found, "the preview has no confirmation form"
    return found.group(1)


def confirm(client, html: str, token: str | None = None):
    data = {"csrf_token": csrf_of(html), "preview": preview_token(html) if token is None else token}
    return client.post(f"{CONTACTS}/import/confirm", data=data)


def test_a_csv_import_adds_the_previewed_rows_and_names_each_bad_row(client, store):
    sign_in(client, store)
    before = everything(store)
    preview = upload(client, CSV, "add")
    assert preview.status_code == 200
    shown = text(preview.text)
    assert "Inget har ändrats ännu." in shown and "6 rader med kontakter lästes" in shown
    assert "Rad 5: organisationen ”Atlantis” finns inte" in shown
    assert "Rad 6: ”inte-en-adress” är inte en giltig e-postadress" in shown
    assert "Rad 7: målgruppen ”astronaut” finns inte" in shown
    assert "Läggs till (1)" in shown and "Pia Lärk" in shown
    assert "Får nytt namn (1)" in shown and "Johanna Eriksson Berg" in shown
    assert "1 kontakt i filen finns redan och ändras inte" in shown
    assert "Tas bort" not in shown
    assert everything(store) == before  # a preview changes nothing

    done = confirm(client, preview.text)
    assert done.status_code == 200 and "Importen är klar" in done.text
    assert "1 ny kontakt lades till, 1 kontakt fick nytt namn och 0 kontakter togs bort." in text(done.text)
    after = everything(store)
    assert after - before == {
        ("sundsvall", "lärare", "Pia Lärk", "pia.lark@sundsvall.example.se"),
        ("sundsvall", "rektor", "Johanna Eriksson Berg", "johanna.eriksson@sundsvall.example.se"),
    }
    assert before - after == {("sundsvall", "rektor", "Johanna Eriksson", "johanna.eriksson@sundsvall.example.se")}


def xlsx(rows: list[list[str | None]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_import_replaces_the_contacts_of_the_organisations_in_the_file(client, store):
    sign_in(client, store)
    ostersund = {c for c in everything(store) if c[0] == "ostersund"}
    data = xlsx(
        [
            ["Kommun", "Målgrupp", "Kontaktperson", "E-postadress"],
            ["Sundsvall", None, "Katarina Engström", "katarina.engstrom@sundsvall.example.se"],
            ["Sundsvall", "Lärare", "Pia Lärk", "Pia.Lark@Sundsvall.Example.se"],
        ]
    )
    preview = upload(client, data, "replace", "kontakter.xlsx")
    assert preview.status_code == 200
    shown = text(preview.text)
    assert "Ersätt kontakterna för organisationerna i filen" in shown
    assert "Tas bort, finns inte i filen (4)" in shown and "Fredrik Sundqvist" in shown
    assert "Läggs till (1)" in shown
    confirm(client, preview.text)
    assert {c for c in everything(store) if c[0] == "sundsvall"} == {
        ("sundsvall", None, "Katarina Engström", "katarina.engstrom@sundsvall.example.se"),
        ("sundsvall", "lärare", "Pia Lärk", "pia.lark@sundsvall.example.se"),
    }
    assert {c for c in everything(store) if c[0] == "ostersund"} == ostersund  # not in the file: as it was


def test_replacing_needs_a_file_without_errors(client, store):
    sign_in(client, store)
    before = everything(store)
    preview = upload(client, CSV, "replace")
    assert preview.status_code == 200
    assert "När kontakterna ersätts måste varje rad i filen vara rätt" in text(preview.text)
    assert "Bekräfta import" not in preview.text and 'name="preview"' not in preview.text
    assert everything(store) == before


def test_the_confirmation_applies_exactly_the_previewed_rows(client, store):
    """Only the signed rows of the preview confirmed: not another preview's, and nothing about what changed since."""
    sign_in(client, store)
    preview = upload(client, CSV, "add")
    other = upload(client, b"organisation;namn;e-post\nBerg;Olle Ost;olle.ost@berg.example.se\n", "add")
    assert "Olle Ost" in other.text
    store.add_contact("berg", None, "Nils Berg", "nils.berg@berg.example.se")  # somebody adds a contact meanwhile
    before = everything(store)
    confirm(client, preview.text)
    assert everything(store) - before == {
        ("sundsvall", "lärare", "Pia Lärk", "pia.lark@sundsvall.example.se"),
        ("sundsvall", "rektor", "Johanna Eriksson Berg", "johanna.eriksson@sundsvall.example.se"),
    }
    assert ("berg", None, "Nils Berg", "nils.berg@berg.example.se") in everything(store)


def test_a_preview_is_confirmed_once_and_not_after_its_contacts_changed(client, store):
    sign_in(client, store)
    preview = upload(client, CSV, "add")
    assert confirm(client, preview.text).status_code == 200
    after = everything(store)
    again = confirm(client, preview.text)  # the browser's back button and the button again
    assert again.status_code == 409 and "redan gjord" in again.text and "Inga kontakter har ändrats" in again.text
    assert everything(store) == after
    # changed by somebody else after the preview: the preview no longer says what would happen
    preview = upload(client, CSV.replace(b"Pia L", b"Pia Maria L"), "add")
    store.update_contact(
        seeded(store, "sundsvall").id, "sundsvall", None, "Katarina E", seeded(store, "sundsvall").email
    )
    before = everything(store)
    assert confirm(client, preview.text).status_code == 409
    assert everything(store) == before


def test_a_tampered_foreign_or_expired_preview_is_refused(client, store, monkeypatch):
    sign_in(client, store)
    preview = upload(client, CSV, "add")
    token = preview_token(preview.text)
    before = everything(store)
    payload, _, signature = token.rpartition(".")
    for forged in (f"{payload}x.{signature}", f"{payload}.{signature[::-1]}", "", "nonsense"):
        response = confirm(client, preview.text, forged)
        assert response.status_code == 400, forged[:20]
        assert "Förhandsgranskningen går inte att använda" in response.text
        assert "Inga kontakter har ändrats" in response.text
    assert confirm(client, preview.text, "x" * 1_100_000).status_code in (400, 413)  # refused before it is read
    # another coordinator's preview
    other = TestClient(client.app, base_url="https://testserver")
    sign_in(other, store, "annan@miun.se")
    page = other.get(CONTACTS)
    assert (
        other.post(f"{CONTACTS}/import/confirm", data={"csrf_token": csrf_of(page.text), "preview": token}).status_code
        == 400
    )
    # half an hour later
    later = time.time() + 31 * 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    expired = confirm(client, preview.text)
    assert expired.status_code == 410 and "äldre än 30 minuter" in expired.text
    assert everything(store) == before


@pytest.mark.parametrize(
    ("data", "mode", "field", "message"),
    [
        (CSV, None, "mode", "Välj om kontakterna i filen ska läggas till"),
        (b"", "add", "file", "Välj en CSV- eller Excel-fil"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "add", "file", "gamla Excel-formatet"),
        (b"namn;e-post\nAnna;anna@skola.se\n", "add", "file", "Kolumnen organisation saknas"),
        (b"PK\x03\x04broken", "add", "file", "Excel-filen går inte att läsa"),
    ],
)
def test_a_file_that_cannot_be_imported_is_named_next_to_its_field(client, store, data, mode, field, message):
    sign_in(client, store)
    before = everything(store)
    response = upload(client, data, mode)
    assert response.status_code == 422
    assert message in (error_at(response.text, field) or "")
    assert everything(store) == before


# -- who may change ----------------------------------------------------------------------------------------------------
def test_viewers_get_403_on_every_change(client, store):
    sign_in(client, store, "ledning@miun.se", Role.VIEWER)
    contact = seeded(store, "sundsvall")
    before = everything(store)
    token = csrf_of(client.get(CONTACTS).text)
    assert client.get(f"{CONTACTS}/{contact.id}/edit").status_code == 403
    assert client.get(f"{CONTACTS}/{contact.id}/remove").status_code == 403
    for path, data in [
        (CONTACTS, GOOD),
        (f"{CONTACTS}/{contact.id}/edit", {**GOOD, "organisation": "sundsvall"}),
        (f"{CONTACTS}/{contact.id}/remove", {}),
        (f"{CONTACTS}/import/confirm", {"preview": "x"}),
    ]:
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403 and "läsbehörighet" in response.text, path
    response = client.post(
        f"{CONTACTS}/import", data={"csrf_token": token, "mode": "add"}, files={"file": ("k.csv", CSV, "text/csv")}
    )
    assert response.status_code == 403
    assert everything(store) == before


def test_forms_without_the_csrf_token_change_nothing(client, store):
    sign_in(client, store)
    contact = seeded(store, "sundsvall")
    preview = upload(client, CSV, "add")
    before = everything(store)
    for path, data in [
        (CONTACTS, GOOD),
        (f"{CONTACTS}/{contact.id}/edit", {**GOOD, "organisation": "sundsvall"}),
        (f"{CONTACTS}/{contact.id}/remove", {}),
        (f"{CONTACTS}/import/confirm", {"preview": preview_token(preview.text)}),
    ]:
        for token in ({}, {"csrf_token": "forged"}):
            assert client.post(path, data={**data, **token}).status_code == 403, path
    assert client.post(f"{CONTACTS}/import", data={"mode": "add"}, files={"file": ("k.csv", CSV)}).status_code == 403
    assert everything(store) == before


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(CONTACTS, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/signin?next=")
