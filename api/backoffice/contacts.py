"""The organisations' invitation contacts (`/admin/contacts`): who gets the invitation and the deadline reminders of
an activity, per organisation and target group. Everybody signed in sees the list; coordinators add, change and
remove contacts (removing has a confirmation step) and import a CSV or Excel list in two steps: upload, preview,
confirm.

Between the preview and the confirmation the checked rows travel in a hidden field of the preview's form, signed
with a key derived from the deployment's (itsdangerous: HMAC-SHA1 over zlib-compressed JSON, with a timestamp), for
the member who uploaded them and the mode chosen, for 30 minutes. That needs no table, nothing to clean up, and
works with any number of web processes and across a restart; the signature means the confirmation applies exactly
the rows the page showed (nothing added, changed or stretched past its half hour on the way). With the rows goes a
fingerprint of the stored contacts of their organisations: when those changed after the preview (someone edited
them, or the same preview was confirmed already), the confirmation is refused and nothing is written, so it never
does more than the page showed. The rows are what the member just saw on the page, so the field tells them nothing
new. The payload is only decompressed after its signature has been checked.

Changes are logged by the member's opaque staff id with contact and organisation ids and counts: no names or
addresses in logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from pydantic import TypeAdapter, ValidationError

from activities_impl.store import StoreError
from activities_impl.store.reference import ListedContact
from api.backoffice.context import ADMIN, OFFICE, BackOffice
from domain.contacts import (
    DUPLICATE,
    UNKNOWN_ORGANISATION,
    ContactChanges,
    ContactFields,
    ImportMode,
    check_contact,
)
from domain.contacts_import import MAX_FILE_BYTES, ImportedContact, organisation_names, parse_contacts
from domain.email_address import InvalidEmail, parse_email
from domain.reference import default_reference
from domain.tables import Contact, Organisation, StaffMember

log = structlog.get_logger("runflow.backoffice.contacts")

CONTACTS = f"{ADMIN}/contacts"
PREVIEW_MINUTES = 30
PREVIEW_SALT = "runflow contacts import preview"
MAX_PREVIEW_TOKEN = 1_000_000  # characters of the signed rows (form fields are read up to 1 MiB)
EVERY_GROUP = "*"  # the list's filter value for contacts of every target group
MAX_QUERY = 100

DONE = {
    "tillagd": "Kontakten är tillagd.",
    "andrad": "Kontakten är ändrad.",
    "borttagen": "Kontakten är borttagen.",
}
MODE_LABELS = {
    ImportMode.ADD: "Lägg till",
    ImportMode.REPLACE: "Ersätt kontakterna för organisationerna i filen",
}
NO_FILE = "Välj en CSV- eller Excel-fil med kontakter."
NO_MODE = "Välj om kontakterna i filen ska läggas till eller ersätta organisationernas kontakter."
PREVIEW_EXPIRED = (
    f"Förhandsgranskningen är äldre än {PREVIEW_MINUTES} minuter och gäller inte längre. "
    "Ladda upp filen igen för att se en ny förhandsgranskning."
)
PREVIEW_INVALID = "Förhandsgranskningen går inte att använda. Ladda upp filen igen för att se en ny förhandsgranskning."
CHANGED_SINCE_PREVIEW = (
    "Kontakterna för organisationerna i filen har ändrats sedan förhandsgranskningen, "
    "eller så är importen redan gjord. Ladda upp filen igen för att se en ny förhandsgranskning."
)
TOO_LARGE_FOR_PREVIEW = "Filen har för mycket text för att importeras på en gång. Dela upp den i flera filer."

_ROWS = TypeAdapter(list[ImportedContact])


@dataclass(frozen=True)
class Choices:
    organisations: list[Organisation]
    target_groups: list[str]

    @property
    def organisation_ids(self) -> set[str]:
        return {o.id for o in self.organisations}

    def organisation_name(self, organisation_id: str) -> str:
        return next((o.name for o in self.organisations if o.id == organisation_id), organisation_id)


def group_label(target_group: str | None) -> str:
    return "Alla målgrupper" if target_group is None else target_group


def contact_id_of(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def fields_of(contact: Contact) -> dict[str, str]:
    return {
        "organisation": contact.organisation_id,
        "target_group": contact.target_group or "",
        "name": contact.name,
        "email": contact.email,
    }


def contacts_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    serializer = URLSafeTimedSerializer(bo.derived_key("contacts import preview"), salt=PREVIEW_SALT)

    async def choices() -> Choices:
        organisations = await asyncio.to_thread(bo.store.organisations)
        return Choices(organisations, list(default_reference().target_groups))

    async def list_page(
        request: Request,
        member: StaffMember,
        status: int = 200,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        import_errors: dict[str, str] | None = None,
        import_mode: str = "",
    ) -> HTMLResponse:
        options = await choices()
        chosen = {k: request.query_params.get(k, "")[:MAX_QUERY] for k in ("organisation", "target_group")}
        if chosen["organisation"] not in options.organisation_ids:
            chosen["organisation"] = ""
        if chosen["target_group"] not in (EVERY_GROUP, *options.target_groups):
            chosen["target_group"] = ""
        every = await asyncio.to_thread(bo.store.contact_list)
        shown = [c for c in every if _matches(c, chosen["organisation"], chosen["target_group"])]
        groups: dict[str, list[ListedContact]] = {}
        for contact in shown:
            groups.setdefault(contact.organisation_id, []).append(contact)
        with_contacts = {c.organisation_id for c in every}
        without = [o.name for o in options.organisations if o.id not in with_contacts]
        done = DONE.get(request.query_params.get("klart", "")[:MAX_QUERY], "")
        return bo.page(
            request,
            "admin/contacts.html",
            status,
            member=member,
            title="Kontakter",
            organisations=options.organisations,
            target_groups=options.target_groups,
            chosen=chosen,
            every_group=EVERY_GROUP,
            groups=[(options.organisation_name(org), rows) for org, rows in groups.items()],
            shown=len(shown),
            total=len(every),
            without=without,
            done=done,
            values=values or {"organisation": chosen["organisation"], "target_group": ""},
            errors=errors or {},
            import_errors=import_errors or {},
            import_mode=import_mode,
            mode_labels={m.value: label for m, label in MODE_LABELS.items()},
            max_file_mb=MAX_FILE_BYTES // 1024 // 1024,
            group_label=group_label,
        )

    def edit_page(
        request: Request,
        member: StaffMember,
        contact_id: int,
        options: Choices,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        return bo.page(
            request,
            "admin/contact_edit.html",
            status,
            member=member,
            title="Ändra kontakt",
            contact_id=contact_id,
            organisations=options.organisations,
            target_groups=options.target_groups,
            values=values,
            errors=errors or {},
        )

    def unknown_contact(request: Request, member: StaffMember) -> HTMLResponse:
        return bo.message(
            request,
            "Kontakten finns inte",
            ["Kontakten finns inte, eller så har någon redan tagit bort den."],
            404,
            "bad",
            member=member,
            back=CONTACTS,
            back_text="Till kontakterna",
        )

    def back_to_list(done: str, organisation_id: str) -> RedirectResponse:
        return RedirectResponse(f"{CONTACTS}?organisation={organisation_id}&klart={done}#kontakter", status_code=303)

    @router.get("/contacts", response_class=HTMLResponse)
    async def contacts(request: Request, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        return await list_page(request, member)

    @router.post("/contacts", response_class=HTMLResponse)
    async def add(request: Request, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        options = await choices()
        fields, errors = check_contact(form, options.organisation_ids, options.target_groups)
        if fields is not None:
            try:
                contact = await asyncio.to_thread(
                    bo.store.add_contact, fields.organisation_id, fields.target_group, fields.name, fields.email
                )
            except StoreError as exc:
                errors = _store_errors(exc)
            else:
                await bo.audit(OFFICE, member, "contact_added", "Kontakt tillagd", contact_id=contact.id)
                log.info(
                    "contact added",
                    staff_id=member.id,
                    contact_id=contact.id,
                    organisation_id=contact.organisation_id,
                    target_group=contact.target_group,
                )
                return back_to_list("tillagd", contact.organisation_id)
        values = {k: form.get(k, "")[:300] for k in ("organisation", "target_group", "name", "email")}
        return await list_page(request, member, 422, values=values, errors=errors)

    @router.get("/contacts/{contact_id}/edit", response_class=HTMLResponse)
    async def edit_form(request: Request, contact_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        number = contact_id_of(contact_id)
        contact = await asyncio.to_thread(bo.store.contact, number) if number is not None else None
        if number is None or contact is None:
            return unknown_contact(request, member)
        return edit_page(request, member, number, await choices(), fields_of(contact))

    @router.post("/contacts/{contact_id}/edit", response_class=HTMLResponse)
    async def edit(request: Request, contact_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        number = contact_id_of(contact_id)
        if number is None:
            return unknown_contact(request, member)
        options = await choices()
        fields, errors = check_contact(form, options.organisation_ids, options.target_groups)
        if fields is not None:
            try:
                contact = await asyncio.to_thread(_update, bo, number, fields)
            except StoreError as exc:
                if exc.code == "unknown_contact":
                    return unknown_contact(request, member)
                errors = _store_errors(exc)
            else:
                await bo.audit(OFFICE, member, "contact_changed", "Kontakt ändrad", contact_id=number)
                log.info(
                    "contact changed",
                    staff_id=member.id,
                    contact_id=number,
                    organisation_id=contact.organisation_id,
                    target_group=contact.target_group,
                )
                return back_to_list("andrad", contact.organisation_id)
        values = {k: form.get(k, "")[:300] for k in ("organisation", "target_group", "name", "email")}
        return edit_page(request, member, number, options, values, errors, 422)

    @router.get("/contacts/{contact_id}/remove", response_class=HTMLResponse)
    async def remove_form(request: Request, contact_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        number = contact_id_of(contact_id)
        contact = await asyncio.to_thread(bo.store.contact, number) if number is not None else None
        if number is None or contact is None:
            return unknown_contact(request, member)
        options = await choices()
        return bo.page(
            request,
            "admin/contact_remove.html",
            member=member,
            title="Ta bort kontakt",
            contact=contact,
            organisation_name=options.organisation_name(contact.organisation_id),
            target_group_label=group_label(contact.target_group),
        )

    @router.post("/contacts/{contact_id}/remove", response_class=HTMLResponse)
    async def remove(request: Request, contact_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        await bo.form(request)
        number = contact_id_of(contact_id)
        if number is None:
            return unknown_contact(request, member)
        try:
            contact = await asyncio.to_thread(bo.store.remove_contact, number)
        except StoreError:
            return unknown_contact(request, member)
        await bo.audit(OFFICE, member, "contact_removed", "Kontakt borttagen", contact_id=number)
        log.info(
            "contact removed",
            staff_id=member.id,
            contact_id=number,
            organisation_id=contact.organisation_id,
            target_group=contact.target_group,
        )
        return back_to_list("borttagen", contact.organisation_id)

    # -- import: upload, preview, confirm -------------------------------------------------------------------------
    @router.post("/contacts/import", response_class=HTMLResponse)
    async def upload(request: Request, member: StaffMember = Depends(bo.coordinator)) -> Response:
        fields, data, filename = await bo.upload(request, "file")
        mode_text = fields.get("mode", "")[:MAX_QUERY]
        errors: dict[str, str] = {}
        if mode_text not in {m.value for m in ImportMode}:
            errors["mode"] = NO_MODE
        if not data:
            errors["file"] = NO_FILE
        if errors or data is None:
            return await list_page(request, member, 422, import_errors=errors, import_mode=mode_text)
        mode = ImportMode(mode_text)
        options = await choices()
        result = await asyncio.to_thread(
            parse_contacts, data, organisation_names(options.organisations), options.target_groups
        )
        if not result.contacts:  # unreadable, or not one good row: nothing to preview
            return await list_page(
                request, member, 422, import_errors={"file": " ".join(result.errors[:1])}, import_mode=mode_text
            )
        changes = await asyncio.to_thread(bo.store.preview_contacts_import, result.contacts, mode)
        # Replacing takes away every contact of an organisation in the file that the file does not list: with a bad
        # row in the file, that would remove a contact the file meant to keep. So only a file without errors
        # replaces (no signed rows are handed out otherwise); adding takes the good rows and skips the bad ones.
        may_confirm = changes.changes_anything and (mode is ImportMode.ADD or not result.errors)
        token = ""
        if may_confirm:
            payload = {
                "by": member.id,
                "mode": mode.value,
                "before": changes.before,
                "rows": _rows_out(result.contacts),
            }
            token = serializer.dumps(payload)
            if len(token) > MAX_PREVIEW_TOKEN:
                return await list_page(
                    request, member, 422, import_errors={"file": TOO_LARGE_FOR_PREVIEW}, import_mode=mode_text
                )
        log.info(
            "contacts import previewed",
            staff_id=member.id,
            mode=mode.value,
            rows=result.rows,
            valid=len(result.contacts),
            errors=len(result.errors),
        )
        return bo.page(
            request,
            "admin/contacts_import.html",
            200,
            member=member,
            title="Förhandsgranska import",
            filename=filename,
            mode=mode.value,
            mode_label=MODE_LABELS[mode],
            rows=result.rows,
            errors=result.errors,
            changes=_changes_view(changes, options),
            may_confirm=may_confirm,
            replace_blocked=mode is ImportMode.REPLACE and bool(result.errors),
            token=token,
            minutes=PREVIEW_MINUTES,
        )

    @router.post("/contacts/import/confirm", response_class=HTMLResponse)
    async def confirm(request: Request, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        token = form.get("preview", "")
        try:
            if len(token) > MAX_PREVIEW_TOKEN:
                raise BadData("too long")
            payload = serializer.loads(token, max_age=PREVIEW_MINUTES * 60)
            mode, rows, before = _rows_in(payload, member)
        except SignatureExpired:
            return _refused(bo, request, member, PREVIEW_EXPIRED, 410)
        except (BadData, ValidationError, ValueError, TypeError, KeyError):
            log.warning("contacts import preview refused", staff_id=member.id)
            return _refused(bo, request, member, PREVIEW_INVALID, 400)
        try:
            changes = await asyncio.to_thread(bo.store.import_contacts, rows, mode, before)
        except StoreError as exc:
            texts = {"unknown_organisation": UNKNOWN_ORGANISATION, "contacts_changed": CHANGED_SINCE_PREVIEW}
            return _refused(bo, request, member, texts.get(exc.code, PREVIEW_INVALID), 409)
        await bo.audit(
            OFFICE,
            member,
            "contacts_imported",
            f"Kontakter importerade: {len(changes.added)} nya, {len(changes.renamed)} ändrade, "
            f"{len(changes.removed)} borttagna",
        )
        log.info(
            "contacts imported",
            staff_id=member.id,
            mode=mode.value,
            organisations=len(changes.organisation_ids),
            added=len(changes.added),
            renamed=len(changes.renamed),
            removed=len(changes.removed),
            unchanged=len(changes.unchanged),
        )
        return bo.message(
            request,
            "Importen är klar",
            [
                f"{_count(len(changes.added), 'ny kontakt', 'nya kontakter')} lades till, "
                f"{_count(len(changes.renamed), 'kontakt', 'kontakter')} fick nytt namn och "
                f"{_count(len(changes.removed), 'kontakt', 'kontakter')} togs bort."
            ],
            200,
            "ok",
            member=member,
            back=f"{CONTACTS}#kontakter",
            back_text="Till kontakterna",
        )

    return router


def _matches(contact: ListedContact, organisation_id: str, target_group: str) -> bool:
    """The list's filters: an organisation; a target group (its own contacts and those for every target group, as
    the invitations go), or `EVERY_GROUP` (the contacts for every target group only)."""
    if organisation_id and contact.organisation_id != organisation_id:
        return False
    if target_group == EVERY_GROUP:
        return contact.target_group is None
    return not target_group or contact.target_group in (None, target_group)


def _update(bo: BackOffice, contact_id: int, fields: ContactFields) -> Contact:
    return bo.store.update_contact(contact_id, fields.organisation_id, fields.target_group, fields.name, fields.email)


def _store_errors(exc: StoreError) -> dict[str, str]:
    if exc.code == "unknown_organisation":
        return {"organisation": UNKNOWN_ORGANISATION}
    if exc.code == "duplicate_contact":
        return {"email": DUPLICATE}
    raise exc


def _rows_out(rows: Sequence[ImportedContact]) -> list[list[Any]]:
    return [[r.row, r.organisation_id, r.target_group, r.name, r.email] for r in rows]


def _rows_in(payload: Any, member: StaffMember) -> tuple[ImportMode, list[ImportedContact], str]:
    """The signed preview's mode, rows and the fingerprint of the contacts it was computed from, for this member only;
    checked again (they were checked when signed)."""
    if not isinstance(payload, dict) or payload.get("by") != member.id or not isinstance(payload.get("before"), str):
        raise ValueError("not this member's preview")
    mode = ImportMode(payload["mode"])
    fields = ("row", "organisation_id", "target_group", "name", "email")
    rows = _ROWS.validate_python([dict(zip(fields, r, strict=True)) for r in payload["rows"]])
    for row in rows:
        if parse_email(row.email) != row.email:
            raise InvalidEmail("not normalised")
    return mode, rows, payload["before"]


def _refused(bo: BackOffice, request: Request, member: StaffMember, text: str, status: int) -> HTMLResponse:
    return bo.message(
        request,
        "Importen gjordes inte",
        [text, "Inga kontakter har ändrats."],
        status,
        "bad",
        member=member,
        back=f"{CONTACTS}#importera",
        back_text="Till importen",
    )


def _changes_view(changes: ContactChanges, options: Choices) -> dict[str, list[dict[str, str]]]:
    def row(organisation_id: str, target_group: str | None, name: str, email: str, **more: str) -> dict[str, str]:
        return {
            "organisation": options.organisation_name(organisation_id),
            "target_group": group_label(target_group),
            "name": name,
            "email": email,
            **more,
        }

    return {
        "added": [row(c.organisation_id, c.target_group, c.name, c.email, row=str(c.row)) for c in changes.added],
        "renamed": [
            row(
                r.contact.organisation_id,
                r.contact.target_group,
                r.contact.name,
                r.contact.email,
                row=str(r.contact.row),
                previous_name=r.previous_name,
            )
            for r in changes.renamed
        ],
        "removed": [row(c.organisation_id, c.target_group, c.name, c.email) for c in changes.removed],
        "unchanged": [
            row(c.organisation_id, c.target_group, c.name, c.email, row=str(c.row)) for c in changes.unchanged
        ],
    }


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
