"""Creating and changing activities without YAML: the form, the YAML upload, a new round from an earlier activity,
the preview with the computed timeline, and starting.

- `GET/POST /admin/activities/new`: the form with every field of a plan; sessions are added and removed by submit
  buttons (no JavaScript), and what was typed stays. Saved (as a new plan version, not published) only when the
  plan model accepts it; otherwise each problem in Swedish next to its field and in a summary at the top.
- `GET/POST /admin/activities/upload`: the same plan as a YAML file, with `domain.plan_source`'s limits.
- `GET /admin/activities/<id>/new-round`: the form filled in from an earlier activity, with a new id and the dates
  empty, or moved a chosen number of weeks (`?veckor=N`).
- `GET/POST /admin/activities/<id>/edit`: while the activity has not been started.
- `GET /admin/activities/<id>/preview`: the plan summarised and `domain.timeline` in Swedish time;
  `POST /admin/activities/<id>/start` starts it (`Service.start`) and goes to the activity's page.

Saving keeps the plan as the activity's next version without making it current (`save_plan(plan, False)`):
the current version is the one the workflow runs, set when the activity starts. So an activity whose current
version is 0 has never been started. Every save and start is in the audit log, by the member's opaque id.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.backoffice.context import ADMIN, BackOffice, now
from api.backoffice.plan_check import Issue, check_plan, rule_issues, source_issue
from api.backoffice.plan_form import (
    FIELDS,
    MAX_SESSIONS,
    SESSION_FIELDS,
    PlanForm,
    anchor,
    duration_text,
    form_key,
    key_label,
    next_round_id,
    session_key,
)
from api.service import Refused, Unconfirmed
from domain.action_plan import ActionPlan
from domain.lifecycle import Location
from domain.local_time import BadLocalTime, parse_local_time
from domain.plan import ACTIVITY_ID, ActivityFormat, ActivityPlan, plan_year
from domain.plan_source import MAX_PLAN_BYTES, SourceError, load_yaml, too_large
from domain.reference import OrganisationKind, OrganisationRef, ReferenceData, default_reference
from domain.refusals import RefusalCode
from domain.tables import Activity, StaffMember
from domain.texts import FORMAT_LABELS, STOCKHOLM, refusal_text, when
from domain.timeline import WHERE, timeline_rows

log = structlog.get_logger("runflow.backoffice")

STATUS_SECONDS = 5.0  # asking Temporal whether an activity runs
START_SECONDS = 30.0  # starting one
MAX_WEEKS = 520
LOCATION_LABELS = {
    Location.SUNDSVALL.value: "Campus Sundsvall",
    Location.OSTERSUND.value: "Campus Östersund",
    Location.BOTH.value: "Campus Sundsvall och campus Östersund (länkade)",
    Location.DIGITAL.value: "Digitalt",
}
FORM_ORDER = [
    "id",
    "title",
    "description",
    "format",
    "focus_area",
    "action_plan_line",
    "target_groups",
    "organiser_email",
    "places",
    "min_participants",
    "teams_allowed",
    "teams_min_size",
    "teams_max_size",
    "registration_opens",
    "registration_deadline",
    "registration_reminders",
    "grace_period",
    "invite",
    "organisations",
    "sessions",
    *[session_key(i, part) for i in range(MAX_SESSIONS) for part in SESSION_FIELDS],
    "session_reminder_before",
    "surveys_attendance_grace",
    "surveys_window",
    "surveys_reminder_after",
    "surveys_final_evaluation_after",
    "surveys_follow_up_after",
    "retention",
    "keep_free_text",
]
_RANK = {key: i for i, key in enumerate(FORM_ORDER)}
KINDS = {kind.value: kind for kind in OrganisationKind}

ALREADY_STARTED = "Aktiviteten är redan startad."
POSTPONE_HINT = (
    "Planen för en startad aktivitet ändras inte här. Behöver träffarna nya datum beslutar du att skjuta upp "
    "aktiviteten på aktivitetens sida."
)
NO_TEMPORAL = "Vi får ingen kontakt med Temporal, motorn som driver aktiviteterna. Försök igen om en stund."
NO_TEMPORAL_SAVED = (
    "Vi får ingen kontakt med Temporal, motorn som driver aktiviteterna. Planen är sparad; försök igen om en stund."
)


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def period_label(period: str) -> str:
    """'2023-' -> 'Verksamhetsplan 2023–', '2020-2022' -> 'Verksamhetsplan 2020–2022'."""
    return f"Verksamhetsplan {period.replace('-', '–')}"


def merged_errors(pre: dict[str, str], issues: list[Issue]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Problems by form field (the first one of each field: a field refused before parsing keeps that reason),
    and the summary in the form's order: (link target, 'name: problem')."""
    errors = dict(pre)
    general: list[str] = []
    for issue in issues:
        key = form_key(issue.path)
        if not key:
            general.append(str(issue))
        elif key not in errors:
            errors[key] = issue.message
    ordered = sorted(errors, key=lambda k: _RANK.get(k, len(_RANK)))
    summary = [("", text) for text in general] + [(anchor(k), f"{key_label(k)}: {errors[k]}") for k in ordered]
    return errors, summary


async def reference_data(bo: BackOffice) -> ReferenceData:
    """The reference data shipped with runflow, with the organisations as the store has them now."""
    organisations = [
        OrganisationRef.model_construct(
            id=o.id, name=o.name, short_name=o.short_name, kind=KINDS.get(o.kind, OrganisationKind.ASSOCIATION)
        )
        for o in await bo.directory.organisations()
    ]
    return default_reference().model_copy(update={"organisations": organisations})


async def latest(bo: BackOffice, activity_id: str) -> tuple[Activity, int, ActivityPlan] | None:
    """The activity and its latest saved plan version; None for an id the store does not know."""
    if not ACTIVITY_ID.match(activity_id):
        return None
    activity = await bo.directory.activity(activity_id)
    if activity is None:
        return None
    found = await asyncio.to_thread(bo.store.latest_plan, activity_id)
    if found is None:
        return None
    return activity, found[0], found[1]


async def has_started(bo: BackOffice, activity: Activity) -> bool | None:
    """Whether the activity's workflow has been started; None when that cannot be known now (Temporal away).

    A current version of 0 means it never was (starting makes the started plan current)."""
    if activity.current_version == 0:
        return False
    if bo.service is None:
        return None
    try:
        async with asyncio.timeout(STATUS_SECONDS):
            await bo.service.status(activity.id)
    except Refused as exc:
        return exc.code != RefusalCode.NO_ACTIVITY
    except Exception:  # noqa: BLE001 - unknown: the caller says so
        return None
    return True


def same_plan(a: ActivityPlan, b: ActivityPlan) -> bool:
    """Equal but for the order of ticked boxes (the form lists target groups and organisations in its own order)."""

    def unordered(plan: ActivityPlan) -> dict[str, Any]:
        data = plan.model_dump()
        data["target_groups"] = sorted(data["target_groups"])
        data["invitation"]["organisations"] = sorted(data["invitation"]["organisations"])
        return data

    return unordered(a) == unordered(b)


def plan_summary(plan: ActivityPlan, organisation_names: dict[str, str]) -> dict[str, Any]:
    """The plan as the preview shows it, in Swedish."""
    invited = plan.invitation.organisations
    if "all" in invited:
        organisations = f"Alla organisationer i RUN ({len(organisation_names)})"
    else:
        organisations = ", ".join(organisation_names.get(o, o) for o in invited)
    reminders = plan.registration.reminders_before_deadline
    return {
        "format": capitalised(FORMAT_LABELS.get(plan.format.value, plan.format.value)),
        "focus_area": capitalised(plan.focus_area),
        "target_groups": ", ".join(plan.target_groups),
        "places": plan.places,
        "min_participants": plan.min_participants,
        "teams": (f"Ja, lag om {plan.teams.min_size}–{plan.teams.max_size} personer" if plan.teams.allowed else "Nej"),
        "opens": when(plan.registration.opens),
        "deadline": when(plan.registration.deadline),
        "reminders": ", ".join(f"{duration_text(r)} före" for r in reminders) if reminders else "Inga",
        "grace_period": duration_text(plan.grace_period),
        "organisations": organisations,
        "sessions": [
            {
                "when": when(s.start, s.end),
                "where": capitalised(WHERE[s.location]),
                "room": s.room or "",
                "link": s.link or "",
                "title": s.title or "",
            }
            for s in plan.sessions
        ],
        "session_reminder_before": duration_text(plan.session_reminder_before),
        "attendance_grace": duration_text(plan.surveys.attendance_grace),
        "survey_window": duration_text(plan.surveys.window),
        "survey_reminder_after": duration_text(plan.surveys.reminder_after),
        "final_evaluation_after": duration_text(plan.surveys.final_evaluation_after),
        "follow_up_after": duration_text(plan.surveys.follow_up_after),
        "retention": duration_text(plan.retention),
        "keep_free_text": "Ja" if plan.surveys.keep_free_text else "Nej, de raderas med personuppgifterna",
    }


def form_year(form: PlanForm) -> int:
    """The year the form's activity belongs to (its first session's, as `domain.plan.plan_year`), or this year."""
    typed = form.sessions[0].get("start", "") if form.sessions else ""
    try:
        return parse_local_time(typed).astimezone(STOCKHOLM).year
    except BadLocalTime:
        return now().astimezone(STOCKHOLM).year


def line_choices(plans: list[ActionPlan], year: int, chosen: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The action plans' lines to choose from, by plan: the activity's year first, then the others, newest first; a
    line id appears once (ids are the same from year to year for the same text). A chosen line no plan has is shown
    on its own (then refused when the year's plan lacks it)."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    seen: set[str] = set()
    for plan in sorted(plans, key=lambda p: (p.year != year, -p.year)):
        options = [(line.id, f"{area.name}: {line.what}") for area in plan.areas for line in area.lines]
        options = [(value, text) for value, text in options if value not in seen]
        seen.update(value for value, _ in options)
        if options:
            groups.append((f"Handlingsplan {plan.year}", options))
    if chosen and chosen not in seen:
        groups.append(("Finns inte i någon handlingsplan", [(chosen, chosen)]))
    return groups


def line_text(plan: ActivityPlan, action_plan: ActionPlan | None) -> str:
    """The activity's line of the action plan of its year, as the preview says it."""
    line_id = plan.action_plan_line
    if line_id is None:
        return "Ingen: aktiviteten ligger utanför handlingsplanen"
    line = action_plan.line(line_id) if action_plan is not None else None
    area = action_plan.area_of(line_id) if action_plan is not None else None
    if line is None or area is None:
        year = plan_year(plan)
        return f"{line_id} (finns inte i handlingsplanen för {year})"
    return f"{area.name}: {line.what}"


def action_plans(bo: BackOffice) -> list[ActionPlan]:
    years = bo.store.action_plan_years()
    return [plan for year in years if (plan := bo.store.action_plan(year)) is not None]


def plan_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def preview_path(activity_id: str) -> str:
        return f"{ADMIN}/activities/{activity_id}/preview"

    async def form_page(
        request: Request,
        member: StaffMember,
        form: PlanForm,
        *,
        action: str,
        heading: str,
        status: int = 200,
        errors: dict[str, str] | None = None,
        summary: list[tuple[str, str]] | None = None,
        notice: str = "",
        fixed_id: str | None = None,
        copied_from: str = "",
        new_round: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        reference = await reference_data(bo)
        listed: set[str] = set()
        focus_groups = []
        for period in sorted(reference.focus_areas, reverse=True):
            areas = [a for a in reference.focus_areas[period] if a not in listed]
            listed.update(areas)
            focus_groups.append((period_label(period), [(a, capitalised(a)) for a in areas]))
        chosen_area = form.values.get("focus_area", "")
        if chosen_area and chosen_area not in listed:  # an earlier plan's, no longer in the list: shown, then refused
            focus_groups.append(("Finns inte längre i listan", [(chosen_area, capitalised(chosen_area))]))
        groups = list(reference.target_groups)
        groups += [g for g in form.target_groups if g not in groups]
        organisations = [(o.id, o.name) for o in reference.organisations]
        known = {o for o, _ in organisations}
        organisations += [(o, o) for o in form.organisations if o not in known]
        errors = errors or {}
        plans = await asyncio.to_thread(action_plans, bo)
        lines = line_choices(plans, form_year(form), form.values.get("action_plan_line", ""))
        return bo.page(
            request,
            "admin/plan_form.html",
            status,
            member=member,
            title=f"Fel – {heading}" if errors else heading,
            heading=heading,
            action=action,
            form=form,
            errors=errors,
            summary=summary or [],
            notice=notice,
            fixed_id=fixed_id,
            copied_from=copied_from,
            new_round=new_round,
            labels={key: key_label(key) for key in (*FIELDS, "target_groups", "organisations")},
            formats=[(f.value, capitalised(FORMAT_LABELS.get(f.value, f.value))) for f in ActivityFormat],
            focus_groups=focus_groups,
            line_groups=lines,
            target_groups=groups,
            organisations=organisations,
            locations=list(LOCATION_LABELS.items()),
            max_sessions=MAX_SESSIONS,
        )

    async def posted(
        request: Request,
        member: StaffMember,
        posted_fields: tuple[dict[str, str], dict[str, list[str]]],
        *,
        action: str,
        heading: str,
        fixed_id: str | None = None,
    ) -> ActivityPlan | HTMLResponse:
        """The posted form's plan when it is valid and the coordinator asked to save it; otherwise the page to answer
        (the form again: with a session more or less, or with its problems)."""
        single, lists = posted_fields
        form = PlanForm.from_post(single, lists)
        copied_from = single.get("copied_from", "")
        copied_from = copied_from if len(copied_from) <= 64 and ACTIVITY_ID.match(copied_from) else ""
        pressed = single.get("action", "save")[:40]

        async def again(status: int = 200, **context: Any) -> HTMLResponse:
            return await form_page(
                request,
                member,
                form,
                action=action,
                heading=heading,
                status=status,
                fixed_id=fixed_id,
                copied_from=copied_from,
                **context,
            )

        if pressed == "add_session":
            number = len(form.sessions) + 1
            added = form.add_session()
            notice = (
                f"Träff {number} har lagts till." if added else f"En aktivitet kan ha högst {MAX_SESSIONS} träffar."
            )
            return await again(notice=notice)
        if found := re.fullmatch(r"remove_session-(\d{1,2})", pressed):
            index = int(found.group(1))
            removed = form.remove_session(index)
            notice = f"Träff {index + 1} har tagits bort." if removed else ""
            return await again(notice=notice)
        data, pre = form.to_data(fixed_id)
        reference = await reference_data(bo)
        plan, issues = check_plan(data, reference)
        if plan is not None:
            issues += rule_issues(await asyncio.to_thread(bo.store.action_plan_line_problems, plan))
        if plan is not None and fixed_id is None and not pre and await bo.directory.activity(plan.id) is not None:
            issues.append(
                Issue(
                    "id",
                    key_label("id"),
                    f"Det finns redan en aktivitet med kortnamnet {plan.id}. Välj ett annat, "
                    "till exempel med terminen på slutet (-ht27).",
                )
            )
        if plan is None or pre or issues:
            errors, summary = merged_errors(pre, issues)
            return await again(422, errors=errors, summary=summary)
        return plan

    async def save(member: StaffMember, plan: ActivityPlan, kind: str, reason: str, **details: Any) -> RedirectResponse:
        version = await asyncio.to_thread(bo.store.save_plan, plan, False)
        await bo.audit(plan.id, member, kind, reason, version=version, **details)
        log.info("plan saved", activity_id=plan.id, version=version, staff_id=member.id, kind=kind)
        return RedirectResponse(f"{preview_path(plan.id)}?sparad={version}", status_code=303)

    # -- new ------------------------------------------------------------------
    @router.get("/activities/new", response_class=HTMLResponse)
    async def new_form(request: Request, member: StaffMember = Depends(bo.coordinator)) -> HTMLResponse:
        return await form_page(
            request, member, PlanForm.blank(), action=f"{ADMIN}/activities/new", heading="Ny aktivitet"
        )

    @router.post("/activities/new", response_class=HTMLResponse)
    async def create(request: Request, member: StaffMember = Depends(bo.coordinator)) -> Response:
        fields = await bo.form_with_lists(request)
        plan = await posted(request, member, fields, action=f"{ADMIN}/activities/new", heading="Ny aktivitet")
        if isinstance(plan, HTMLResponse):
            return plan
        copied = fields[0].get("copied_from", "")
        details = {"source": "form"} | ({"copied_from": copied} if ACTIVITY_ID.match(copied) else {})
        return await save(member, plan, "plan_created", "Skapad i formuläret", **details)

    # -- upload -----------------------------------------------------------------
    def upload_page(
        request: Request, member: StaffMember, status: int = 200, issues: list[Issue] | None = None
    ) -> HTMLResponse:
        return bo.page(
            request,
            "admin/plan_upload.html",
            status,
            member=member,
            title="Fel – Ladda upp en plan" if issues else "Ladda upp en plan",
            issues=[str(i) for i in issues or []],
            max_kib=MAX_PLAN_BYTES // 1024,
        )

    @router.get("/activities/upload", response_class=HTMLResponse)
    async def upload_form(request: Request, member: StaffMember = Depends(bo.coordinator)) -> HTMLResponse:
        return upload_page(request, member)

    @router.post("/activities/upload", response_class=HTMLResponse)
    async def upload(request: Request, member: StaffMember = Depends(bo.coordinator)) -> Response:
        _, content, _ = await bo.upload(request, "plan")
        if content is None:
            return upload_page(request, member, 422, [Issue("plan", "Filen", "Välj en fil att ladda upp.")])
        try:
            if len(content) > MAX_PLAN_BYTES:
                raise too_large()
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                return upload_page(
                    request,
                    member,
                    422,
                    [Issue("plan", "Filen", "Filen är inte text i UTF-8. Spara den som UTF-8 och försök igen.")],
                )
            data = load_yaml(text)
        except SourceError as exc:
            return upload_page(request, member, 422, [source_issue(exc)])
        plan, issues = check_plan(data, await reference_data(bo))
        if plan is None:
            return upload_page(request, member, 422, issues)
        line_issues = rule_issues(await asyncio.to_thread(bo.store.action_plan_line_problems, plan))
        if line_issues:
            return upload_page(request, member, 422, line_issues)
        existing = await bo.directory.activity(plan.id)
        if plan.id in ("new", "upload"):
            issue = Issue("id", key_label("id"), f"”{plan.id}” är upptaget av administrationen. Välj ett annat.")
            return upload_page(request, member, 422, [issue])
        if existing is not None:
            started = await has_started(bo, existing)
            if started is not False:
                text = ALREADY_STARTED if started else NO_TEMPORAL
                issue = Issue("id", key_label("id"), f"Det finns redan en aktivitet med kortnamnet {plan.id}. {text}")
                return upload_page(request, member, 409, [issue])
            return await save(member, plan, "plan_edited", "Ändrad med en uppladdad fil", source="yaml")
        return await save(member, plan, "plan_created", "Skapad från en uppladdad fil", source="yaml")

    # -- edit -------------------------------------------------------------------------
    def not_found(request: Request, member: StaffMember) -> HTMLResponse:
        return bo.message(
            request,
            "Aktiviteten finns inte",
            ["Det finns ingen sparad plan med det kortnamnet."],
            404,
            "bad",
            member=member,
            back=f"{ADMIN}/",
            back_text="Till översikten",
        )

    async def editable(request: Request, member: StaffMember, activity_id: str) -> HTMLResponse | ActivityPlan:
        """The latest plan, or the page saying why it cannot be changed here."""
        found = await latest(bo, activity_id)
        if found is None:
            return not_found(request, member)
        activity, _, plan = found
        started = await has_started(bo, activity)
        if started is None:
            return bo.message(
                request,
                "Det gick inte att se om aktiviteten har startat",
                [NO_TEMPORAL],
                503,
                "bad",
                member=member,
                back=preview_path(activity_id),
                back_text="Till förhandsvisningen",
            )
        if started:
            return bo.message(
                request,
                ALREADY_STARTED,
                [POSTPONE_HINT],
                409,
                "bad",
                member=member,
                back=f"{ADMIN}/activities/{activity_id}",
                back_text="Till aktiviteten",
            )
        return plan

    @router.get("/activities/{activity_id}/edit", response_class=HTMLResponse)
    async def edit_form(
        request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)
    ) -> HTMLResponse:
        plan = await editable(request, member, activity_id)
        if isinstance(plan, HTMLResponse):
            return plan
        return await form_page(
            request,
            member,
            PlanForm.from_plan(plan),
            action=f"{ADMIN}/activities/{plan.id}/edit",
            heading=f"Ändra {plan.title}",
            fixed_id=plan.id,
        )

    @router.post("/activities/{activity_id}/edit", response_class=HTMLResponse)
    async def edit(request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        fields = await bo.form_with_lists(request)  # first: a post without the CSRF token learns nothing
        current = await editable(request, member, activity_id)
        if isinstance(current, HTMLResponse):
            return current
        plan = await posted(
            request,
            member,
            fields,
            action=f"{ADMIN}/activities/{activity_id}/edit",
            heading=f"Ändra {current.title}",
            fixed_id=activity_id,
        )
        if isinstance(plan, HTMLResponse):
            return plan
        if same_plan(plan, current):
            return RedirectResponse(preview_path(activity_id), status_code=303)
        return await save(member, plan, "plan_edited", "Ändrad i formuläret", source="form")

    # -- a new round ---------------------------------------------------------------------
    @router.get("/activities/{activity_id}/new-round", response_class=HTMLResponse)
    async def new_round(
        request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)
    ) -> HTMLResponse:
        found = await latest(bo, activity_id)
        if found is None:
            return not_found(request, member)
        activity, _, plan = found
        if activity.current_version > 0:  # the plan it ran with, not a later draft
            plan = (await bo.directory.plan(activity_id)) or plan
        typed = request.query_params.get("veckor", "").strip()[:10]
        weeks, weeks_error = 0, ""
        if typed:
            if typed.isascii() and typed.isdigit() and 1 <= int(typed) <= MAX_WEEKS:
                weeks = int(typed)
            else:
                weeks_error = f"Skriv ett antal veckor mellan 1 och {MAX_WEEKS}."
        form = PlanForm.from_plan(plan, dates=weeks > 0, weeks=weeks)
        taken = {a.id for a in await bo.directory.activities()}
        first = plan.sessions[0].start + timedelta(weeks=weeks) if weeks else None
        form.values["id"] = next_round_id(plan.id, first, taken)
        return await form_page(
            request,
            member,
            form,
            status=422 if weeks_error else 200,
            action=f"{ADMIN}/activities/new",
            heading=f"Ny omgång av {plan.title}",
            copied_from=plan.id,
            new_round={
                "source_id": plan.id,
                "source_title": plan.title,
                "weeks": typed if weeks_error else (str(weeks) if weeks else ""),
                "weeks_error": weeks_error,
                "first": when(plan.sessions[0].start),
            },
        )

    # -- preview and start ----------------------------------------------------------------------
    @router.get("/activities/{activity_id}/preview", response_class=HTMLResponse)
    async def preview(request: Request, activity_id: str, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        found = await latest(bo, activity_id)
        if found is None:
            return not_found(request, member)
        activity, version, plan = found
        started = await has_started(bo, activity)
        names = {o.id: o.name for o in await bo.directory.organisations()}
        at = now()
        warnings = []
        if started is not True:
            if plan.registration.deadline <= at:
                warnings.append("Sista anmälningsdag har redan passerat. Ändra datumen innan du startar aktiviteten.")
            elif plan.registration.opens <= at:
                warnings.append("Anmälan skulle redan ha öppnat: inbjudan går ut så snart du startar aktiviteten.")
        saved = request.query_params.get("sparad", "")[:6]
        action_plan = await asyncio.to_thread(bo.store.action_plan, plan_year(plan))
        return bo.page(
            request,
            "admin/plan_preview.html",
            member=member,
            title=f"Förhandsvisning: {plan.title}",
            plan=plan,
            version=version,
            saved=saved.isdigit(),
            started=started,
            summary=plan_summary(plan, names),
            rows=timeline_rows(plan),
            warnings=warnings,
            action_plan_line=line_text(plan, action_plan),
        )

    @router.post("/activities/{activity_id}/start", response_class=HTMLResponse)
    async def start(request: Request, activity_id: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        found = await latest(bo, activity_id)
        if found is None:
            return not_found(request, member)
        _, version, plan = found

        def refused(title: str, lines: list[str], status: int = 409, to_activity: bool = False) -> HTMLResponse:
            back, back_text = (
                (f"{ADMIN}/activities/{activity_id}", "Till aktiviteten")
                if to_activity
                else (preview_path(activity_id), "Till förhandsvisningen")
            )
            return bo.message(request, title, lines, status, "bad", member=member, back=back, back_text=back_text)

        if form.get("version", "") != str(version):
            return refused(
                "Planen har ändrats",
                ["Någon har sparat en ny version av planen sedan du öppnade förhandsvisningen. Titta igenom den igen."],
            )
        if plan.registration.deadline <= now():
            return refused(
                "Aktiviteten kan inte startas",
                ["Sista anmälningsdag har redan passerat. Ändra datumen och försök igen."],
            )
        if bo.service is None:
            return refused("Aktiviteten kan inte startas just nu", [NO_TEMPORAL_SAVED], 503)
        try:
            async with asyncio.timeout(START_SECONDS):
                await bo.service.start(plan)
        except Refused as exc:
            if exc.code == RefusalCode.ALREADY_STARTED:
                return refused(ALREADY_STARTED, [POSTPONE_HINT], to_activity=True)
            return refused("Aktiviteten kan inte startas", [refusal_text(exc.code, exc.details)])
        except WorkflowAlreadyStartedError:
            return refused(ALREADY_STARTED, [POSTPONE_HINT], to_activity=True)
        except (TimeoutError, Unconfirmed):
            return refused(
                "Inget svar i tid",
                ["Aktiviteten kan ändå ha startats. Titta på aktivitetens sida om en stund."],
                503,
                to_activity=True,
            )
        except Exception as exc:  # noqa: BLE001 - Temporal unreachable: said to the coordinator, logged by type
            log.warning("activity not started", activity_id=activity_id, error=type(exc).__name__)
            return refused("Aktiviteten kan inte startas just nu", [NO_TEMPORAL_SAVED], 503)
        await bo.audit(activity_id, member, "activity_started", "Startad från förhandsvisningen", version=version)
        log.info("activity started", activity_id=activity_id, version=version, staff_id=member.id)
        return RedirectResponse(f"{ADMIN}/activities/{activity_id}", status_code=303)

    return router
