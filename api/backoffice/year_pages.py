"""The year in the back-office (`/admin/year`, "Handlingsplan och ekonomi"): the action plan and its costs.

- `GET /admin/year`: to the current year's page (or the latest year with a plan).
- `GET /admin/year/<year>`: the action plan: focus areas and their lines (what, how, budget, participant fee), the
  activities of the year on each line, and the activities outside the plan (naming no line, or one the plan lacks).
  `POST /admin/year/<year>/import`: a plan file (YAML, CSV or XLSX) checked whole (`domain.action_plan`): every
  problem by row and field on the page, nothing saved; a good file replaces its year's plan in one transaction
  (refused while costs are booked on a line it lacks).
- `GET/POST /admin/year/<year>/lines/<line>/edit`: a line's what, how, budget and fee; its id stays, so activities
  and costs stay on it. The form carries when the plan was saved: a plan changed in between is not overwritten.
- `GET /admin/year/<year>/ekonomi`: budget against outcome per focus area, line and in total
  (`domain.year_outcome`), the costs (filtered by line or activity), adding one, removing one (with a confirmation
  step), importing a file of costs (`domain.costs`: all rows or none, the same file once), the invoice basis per
  organisation on the page and as XLSX or CSV (`/fakturaunderlag.xlsx|.csv?deltagare=bekraftade|narvarande`), and
  the budget table as CSV (`/budget-utfall.csv`).

Everybody signed in reads; coordinators change (viewers get 403). Every change is in the office's log (`OFFICE`),
by the member's opaque id, with ids, years and amounts only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from activities_impl.invoicing import Counted, fee_activities
from activities_impl.store import StoreError
from activities_impl.store.year import ActionPlanSource
from activities_impl.year_files import invoice_basis_csv, invoice_basis_xlsx, outcome_csv
from api.backoffice.context import ADMIN, OFFICE, BackOffice, now
from domain.action_plan import (
    MAX_BUDGET,
    MAX_FEE,
    MAX_HOW,
    MAX_WHAT,
    ActionPlan,
    ActionPlanError,
    action_plan_yaml,
    parse_action_plan_file,
)
from domain.control_characters import control_character
from domain.costs import MAX_COST_ORE, MAX_NOTE, Cost, CostCategory, RecordedCost, parse_costs
from domain.import_problems import ImportProblem, problem
from domain.money import AmountError, kronor, parse_kronor, parse_ore
from domain.spreadsheet import is_excel
from domain.tables import StaffMember
from domain.texts import STOCKHOLM, when
from domain.year_outcome import InvoiceBasis, YearOutcome, invoice_basis, year_outcome

log = structlog.get_logger("runflow.backoffice.year")

YEAR = f"{ADMIN}/year"
MAX_QUERY = 100
MAX_AMOUNT = 40  # characters of a typed amount
TABLE_SUFFIXES = (".csv", ".xlsx", ".xls", ".txt")

COUNTED_PARAMS: dict[str, Counted] = {"bekraftade": "confirmed", "narvarande": "attended"}
COUNTED_LABELS: dict[Counted, str] = {"confirmed": "bekräftade deltagare", "attended": "närvarande deltagare"}
DONE = {
    "importerad": "Handlingsplanen är importerad.",
    "ersatt": "Handlingsplanen är ersatt med den nya filen.",
    "andrad": "Raden är ändrad.",
    "tillagd": "Kostnaden är tillagd.",
    "borttagen": "Kostnaden är borttagen.",
    "importerade": "Kostnaderna är importerade.",
}
NO_FILE = "Välj en fil att ladda upp."
LINE_HAS_COSTS = (
    "Den nya handlingsplanen saknar rader som det finns kostnader bokförda på: {lines}. "
    "Ta bort kostnaderna eller flytta dem till andra rader först. Ingenting är ändrat."
)
ALREADY_IMPORTED = "Den här filen är redan importerad. Ingenting är ändrat."
PLAN_CHANGED = (
    "Handlingsplanen har ändrats sedan du öppnade formuläret. Öppna raden igen och gör ändringen på nytt. "
    "Ingenting är ändrat."
)
AMOUNT_TEXTS = {
    "not_a_number": "Skriv ett belopp i kronor, till exempel 12 500 eller 1 234,50.",
    "too_precise": "Skriv beloppet med högst två decimaler (ören).",
    "negative": "Beloppet ska vara större än 0.",
    "too_large": f"Beloppet får vara högst {kronor(MAX_COST_ORE)}.",
    "zero": "Beloppet ska vara större än 0.",
}
WHOLE_KRONOR = {
    "not_a_number": "Skriv ett belopp i hela kronor, till exempel 75 000.",
    "too_precise": "Skriv beloppet i hela kronor (utan ören).",
    "negative": "Beloppet får inte vara negativt.",
}


def year_of(text: str) -> int | None:
    """The year in a path, or None: four ASCII digits between 2000 and 2100 (checked before `int`)."""
    return int(text) if len(text) == 4 and text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100 else None


def this_year() -> int:
    return now().astimezone(STOCKHOLM).year


def one_line(text: str, limit: int, *, required: bool, what: str) -> tuple[str, str]:
    """The typed text trimmed, and the problem with it ('' when none)."""
    text = text.strip()
    if len(text) > limit:
        return "", f"Högst {limit} tecken (du skrev {len(text)})."
    if control_character(text):
        return "", "Texten har ett otillåtet tecken: ett osynligt styrtecken eller en radbrytning. Skriv den på en rad."
    if required and not text:
        return "", f"Skriv {what}."
    return text, ""


def whole_kronor(text: str, maximum: int, *, required: bool) -> tuple[int | None, str]:
    text = text.strip()
    if not text:
        return None, ("Skriv ett belopp i kronor (0 om raden inte har någon egen budget)." if required else "")
    if len(text) > MAX_AMOUNT:
        return None, WHOLE_KRONOR["not_a_number"]
    try:
        return parse_kronor(text, maximum=maximum), ""
    except AmountError as exc:
        if exc.code == "too_large":
            return None, f"Beloppet får vara högst {kronor(maximum * 100)}."
        return None, WHOLE_KRONOR.get(exc.code, WHOLE_KRONOR["not_a_number"])


def amount_ore(text: str) -> tuple[int | None, str]:
    text = text.strip()
    if not text:
        return None, "Skriv beloppet."
    if len(text) > MAX_AMOUNT:
        return None, AMOUNT_TEXTS["not_a_number"]
    try:
        ore = parse_ore(text, maximum_ore=MAX_COST_ORE)
    except AmountError as exc:
        return None, AMOUNT_TEXTS.get(exc.code, AMOUNT_TEXTS["not_a_number"])
    if ore == 0:
        return None, AMOUNT_TEXTS["zero"]
    return ore, ""


def cost_date(text: str, year: int) -> tuple[date | None, str]:
    text = text.strip()
    if not text:
        return None, "Skriv datumet, till exempel 2020-03-05."
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return None, "Skriv ett datum som finns, som ÅÅÅÅ-MM-DD, till exempel 2020-03-05."
    if not year - 1 <= day.year <= year + 1:
        return None, f"Datumet ligger för långt från {year}: välj ett datum mellan {year - 1} och {year + 1}."
    return day, ""


@dataclass(frozen=True)
class YearData:
    """What the year's pages show, read from the store."""

    year: int
    plan: ActionPlan | None
    source: ActionPlanSource | None
    activity_lines: dict[str, str | None]
    titles: dict[str, str]
    plan_years: list[int]

    def title(self, activity_id: str) -> str:
        return self.titles.get(activity_id, activity_id)

    @property
    def years(self) -> list[int]:
        return sorted({*self.plan_years, this_year(), self.year})

    @property
    def version(self) -> str:
        return self.source.imported_at.isoformat() if self.source is not None else ""


def read_year(bo: BackOffice, year: int) -> YearData:
    store = bo.store
    return YearData(
        year=year,
        plan=store.action_plan(year),
        source=store.action_plan_source(year),
        activity_lines=store.activity_lines(year),
        titles={a.id: a.title for a in store.activities()},
        plan_years=store.action_plan_years(),
    )


def plan_view(data: YearData) -> list[dict[str, Any]]:
    """The plan's focus areas with their lines and each line's activities, for the page."""
    plan = data.plan
    if plan is None:
        return []
    on_line: dict[str, list[tuple[str, str]]] = {}
    for activity_id, line in data.activity_lines.items():
        if line is not None:
            on_line.setdefault(line, []).append((activity_id, data.title(activity_id)))
    return [
        {
            "name": area.name,
            "budget": kronor(area.total_budget * 100),
            "budget_per_area": area.budget is not None,
            "lines": [
                {
                    "id": line.id,
                    "what": line.what,
                    "how": line.how,
                    "budget": kronor(line.budget * 100),
                    "fee": kronor(line.fee * 100) if line.fee is not None else "",
                    "activities": on_line.get(line.id, []),
                }
                for line in area.lines
            ],
        }
        for area in plan.areas
    ]


def outside_view(data: YearData) -> list[dict[str, str]]:
    """The year's activities outside the plan: naming no line, or a line the plan does not have."""
    known = set(data.plan.line_ids) if data.plan is not None else set()
    return [
        {"id": activity_id, "title": data.title(activity_id), "line": line or ""}
        for activity_id, line in data.activity_lines.items()
        if line is None or line not in known
    ]


def target_text(cost: Cost, data: YearData) -> str:
    if cost.line_id is not None:
        line = data.plan.line(cost.line_id) if data.plan is not None else None
        return line.what if line is not None else f"{cost.line_id} (finns inte i handlingsplanen)"
    return data.title(cost.activity_id or "")


def year_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def unknown(request: Request, member: StaffMember, title: str, text: str, back: str) -> HTMLResponse:
        return bo.message(request, title, [text], 404, "bad", member=member, back=back, back_text="Tillbaka")

    def no_year(request: Request, member: StaffMember) -> HTMLResponse:
        return unknown(request, member, "Året finns inte", "Skriv ett år mellan 2000 och 2100.", YEAR)

    def refused(request: Request, member: StaffMember, title: str, text: str, back: str, status: int) -> HTMLResponse:
        return bo.message(request, title, [text], status, "bad", member=member, back=back, back_text="Tillbaka")

    # -- the action plan ------------------------------------------------------------------------------------------
    @router.get("/year", response_class=HTMLResponse)
    async def year_start(request: Request, member: StaffMember = Depends(bo.staff)) -> Response:
        years = await asyncio.to_thread(bo.store.action_plan_years)
        current = this_year()
        chosen = current if current in years or not years else years[-1]
        return RedirectResponse(f"{YEAR}/{chosen}", status_code=303)

    async def plan_page(
        request: Request, member: StaffMember, year: int, status: int = 200, problems: list[ImportProblem] | None = None
    ) -> HTMLResponse:
        data = await asyncio.to_thread(read_year, bo, year)
        done = DONE.get(request.query_params.get("klart", "")[:MAX_QUERY], "")
        return bo.page(
            request,
            "admin/year.html",
            status,
            member=member,
            title=f"Fel – Handlingsplan {year}" if problems else f"Handlingsplan {year}",
            year=year,
            years=data.years,
            tab="plan",
            plan=data.plan,
            budget=kronor(data.plan.budget * 100) if data.plan is not None else "",
            rate=kronor(data.plan.rate_ore) if data.plan is not None else "",
            carried_over=kronor(data.plan.carried_over * 100) if data.plan is not None else "",
            source_name=data.source.name if data.source is not None else "",
            imported_at=when(data.source.imported_at) if data.source is not None else "",
            areas=plan_view(data),
            outside=outside_view(data),
            activities=len(data.activity_lines),
            done=done,
            problems=[p.text for p in problems or []],
        )

    @router.get("/year/{year_text}", response_class=HTMLResponse)
    async def plan(request: Request, year_text: str, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        return await plan_page(request, member, year)

    @router.post("/year/{year_text}/import", response_class=HTMLResponse)
    async def import_plan(request: Request, year_text: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        _, content, filename = await bo.upload(request, "plan")
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        if not content:
            return await plan_page(request, member, year, 422, [problem(None, "fil", "no_file", "no file", NO_FILE)])
        try:
            action_plan = await asyncio.to_thread(parse_action_plan_file, content, filename)
        except ActionPlanError as exc:
            log.info("action plan refused", staff_id=member.id, problems=len(exc.problems))
            return await plan_page(request, member, year, 422, exc.problems)
        from_yaml = not is_excel(content) and not filename.casefold().endswith(TABLE_SUFFIXES)
        source = content.decode("utf-8-sig") if from_yaml else action_plan_yaml(action_plan)
        try:
            saved = await asyncio.to_thread(bo.store.save_action_plan, action_plan, source, filename)
        except StoreError as exc:
            if exc.code != "line_has_costs":
                raise
            lines = str(exc).partition(": ")[2].partition(";")[0]
            return refused(
                request,
                member,
                "Handlingsplanen är inte importerad",
                LINE_HAS_COSTS.format(lines=lines),
                f"{YEAR}/{action_plan.year}/ekonomi",
                409,
            )
        verb = "ersatt" if saved.replaced else "importerad"
        await bo.audit(
            OFFICE,
            member,
            "action_plan_imported",
            f"Handlingsplan {action_plan.year} {verb} från en fil: {saved.areas} insatsområden, {saved.lines} rader, "
            f"budget {kronor(saved.budget * 100)}",
            year=action_plan.year,
            replaced=saved.replaced,
            areas=saved.areas,
            lines=saved.lines,
            budget=saved.budget,
        )
        log.info("action plan imported", staff_id=member.id, year=action_plan.year, replaced=saved.replaced)
        done = "ersatt" if saved.replaced else "importerad"
        return RedirectResponse(f"{YEAR}/{action_plan.year}?klart={done}", status_code=303)

    # -- editing a line ---------------------------------------------------------------------------------------------
    def line_page(
        request: Request,
        member: StaffMember,
        data: YearData,
        line_id: str,
        values: dict[str, str],
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        assert data.plan is not None
        area = data.plan.area_of(line_id)
        return bo.page(
            request,
            "admin/year_line_edit.html",
            status,
            member=member,
            title=f"Fel – Ändra rad i handlingsplan {data.year}"
            if errors
            else f"Ändra rad i handlingsplan {data.year}",
            year=data.year,
            line_id=line_id,
            area=area.name if area is not None else "",
            area_budget=kronor(area.budget * 100) if area is not None and area.budget is not None else "",
            values=values,
            errors=errors or {},
            limits={"what": MAX_WHAT, "how": MAX_HOW},
        )

    async def the_line(
        request: Request, member: StaffMember, year_text: str, line_id: str
    ) -> tuple[YearData, str] | HTMLResponse:
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        data = await asyncio.to_thread(read_year, bo, year)
        if data.plan is None or len(line_id) > 64 or data.plan.line(line_id) is None:
            return unknown(
                request,
                member,
                "Raden finns inte",
                f"Handlingsplanen för {year} har ingen sådan rad.",
                f"{YEAR}/{year}",
            )
        return data, line_id

    @router.get("/year/{year_text}/lines/{line_id}/edit", response_class=HTMLResponse)
    async def edit_line_form(
        request: Request, year_text: str, line_id: str, member: StaffMember = Depends(bo.coordinator)
    ) -> HTMLResponse:
        found = await the_line(request, member, year_text, line_id)
        if isinstance(found, HTMLResponse):
            return found
        data, _ = found
        assert data.plan is not None
        line = data.plan.line(line_id)
        assert line is not None
        values = {
            "what": line.what,
            "how": line.how,
            "budget": str(line.budget),
            "fee": str(line.fee) if line.fee is not None else "",
            "version": data.version,
        }
        return line_page(request, member, data, line_id, values)

    @router.post("/year/{year_text}/lines/{line_id}/edit", response_class=HTMLResponse)
    async def edit_line(
        request: Request, year_text: str, line_id: str, member: StaffMember = Depends(bo.coordinator)
    ) -> Response:
        form = await bo.form(request)
        found = await the_line(request, member, year_text, line_id)
        if isinstance(found, HTMLResponse):
            return found
        data, _ = found
        plan = data.plan
        assert plan is not None
        back = f"{YEAR}/{data.year}"
        if form.get("version", "")[:MAX_QUERY] != data.version:
            return refused(request, member, "Raden är inte ändrad", PLAN_CHANGED, back, 409)
        values = {k: form.get(k, "")[:1000] for k in ("what", "how", "budget", "fee")} | {"version": data.version}
        errors: dict[str, str] = {}
        what, errors["what"] = one_line(values["what"], MAX_WHAT, required=True, what="vad raden gäller")
        how, errors["how"] = one_line(values["how"], MAX_HOW, required=False, what="")
        budget, errors["budget"] = whole_kronor(values["budget"], MAX_BUDGET, required=True)
        fee, errors["fee"] = whole_kronor(values["fee"], MAX_FEE, required=False)
        errors = {k: v for k, v in errors.items() if v}
        area = plan.area_of(line_id)
        assert area is not None
        if budget is not None and area.budget is not None:
            others = sum(line.budget for line in area.lines if line.id != line_id)
            if others + budget > area.budget:
                errors["budget"] = (
                    f"Insatsområdet {area.name} har en budget på {kronor(area.budget * 100)} för hela området, och "
                    f"de andra raderna har redan {kronor(others * 100)}: den här raden kan ha högst "
                    f"{kronor(max(area.budget - others, 0) * 100)}."
                )
        if errors or budget is None:
            return line_page(request, member, data, line_id, values, errors, 422)
        old = plan.line(line_id)
        assert old is not None
        new_line = old.model_copy(update={"what": what, "how": how, "budget": budget, "fee": fee})
        if new_line == old:
            return RedirectResponse(f"{back}#rad-{line_id}", status_code=303)
        content = plan.model_dump()
        for area_data in content["areas"]:
            for index, line_data in enumerate(area_data["lines"]):
                if line_data["id"] == line_id:
                    area_data["lines"][index] = new_line.model_dump()
        try:
            changed = ActionPlan.model_validate(content, strict=False)
        except ValidationError:
            errors["what"] = "Raden går inte att spara så. Kontrollera texterna och beloppen."
            return line_page(request, member, data, line_id, values, errors, 422)
        source_name = data.source.name if data.source is not None else ""
        await asyncio.to_thread(bo.store.save_action_plan, changed, action_plan_yaml(changed), source_name)
        changes: dict[str, Any] = {}
        if old.budget != budget:
            changes["budget"] = [old.budget, budget]
        if old.fee != fee:
            changes["fee"] = [old.fee, fee]
        texts = [name for name, before, after in (("what", old.what, what), ("how", old.how, how)) if before != after]
        await bo.audit(
            OFFICE,
            member,
            "action_plan_line_changed",
            f"Rad i handlingsplan {data.year} ändrad: {what}",
            year=data.year,
            line_id=line_id,
            texts=texts,
            **changes,
        )
        log.info("action plan line changed", staff_id=member.id, year=data.year, line_id=line_id)
        return RedirectResponse(f"{back}?klart=andrad#rad-{line_id}", status_code=303)

    # -- the economy: outcome, costs, invoice basis ----------------------------------------------------------------
    def economy_data(year: int) -> tuple[YearData, list[RecordedCost], YearOutcome, InvoiceBasis]:
        data = read_year(bo, year)
        costs = bo.store.costs(year)
        outcome = year_outcome(year, data.plan, costs, data.activity_lines)
        names = {o.id: o.name for o in bo.store.organisations()}
        basis = invoice_basis(year, data.plan, fee_activities(bo.store, year), names)
        return data, costs, outcome, basis

    async def economy_page(
        request: Request,
        member: StaffMember,
        year: int,
        status: int = 200,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        problems: list[ImportProblem] | None = None,
    ) -> HTMLResponse:
        data, costs, outcome, basis = await asyncio.to_thread(economy_data, year)
        chosen_line = request.query_params.get("rad", "")[:MAX_QUERY]
        chosen_activity = request.query_params.get("aktivitet", "")[:MAX_QUERY]
        shown = [
            c
            for c in costs
            if (not chosen_line or c.line_id == chosen_line)
            and (not chosen_activity or c.activity_id == chosen_activity)
        ]
        line_choices = [
            (area.name, [(line.id, line.what) for line in area.lines])
            for area in (data.plan.areas if data.plan is not None else [])
        ]
        activity_choices = sorted(
            ((a, data.title(a)) for a in data.activity_lines), key=lambda pair: pair[1].casefold()
        )
        done = DONE.get(request.query_params.get("klart", "")[:MAX_QUERY], "")
        return bo.page(
            request,
            "admin/year_economy.html",
            status,
            member=member,
            title=f"Fel – Ekonomi {year}" if errors or problems else f"Ekonomi {year}",
            year=year,
            years=data.years,
            tab="ekonomi",
            has_plan=data.plan is not None,
            outcome=outcome,
            kr=kronor,
            title_of=data.title,
            costs=[
                {
                    "id": c.id,
                    "date": c.date.isoformat(),
                    "amount": kronor(c.amount_ore),
                    "category": c.category.label,
                    "target": target_text(c, data),
                    "note": c.note,
                    "imported": c.batch is not None,
                }
                for c in shown
            ],
            costs_total=kronor(sum(c.amount_ore for c in shown)),
            all_costs=len(costs),
            chosen={"rad": chosen_line, "aktivitet": chosen_activity},
            line_choices=line_choices,
            activity_choices=activity_choices,
            categories=[(c.value, c.label) for c in CostCategory],
            basis=basis,
            values=values or {"date": "", "amount": "", "category": "", "target": "", "note": ""},
            errors=errors or {},
            problems=[p.text for p in problems or []],
            done=done,
            max_note=MAX_NOTE,
        )

    @router.get("/year/{year_text}/ekonomi", response_class=HTMLResponse)
    async def economy(request: Request, year_text: str, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        return await economy_page(request, member, year)

    @router.post("/year/{year_text}/costs", response_class=HTMLResponse)
    async def add_cost(request: Request, year_text: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        form = await bo.form(request)
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        values = {k: form.get(k, "")[:1000] for k in ("date", "amount", "category", "target", "note")}
        errors: dict[str, str] = {}
        day, errors["date"] = cost_date(values["date"], year)
        amount, errors["amount"] = amount_ore(values["amount"])
        category = CostCategory(values["category"]) if values["category"] in set(CostCategory) else None
        errors["category"] = "" if category is not None else "Välj vad kostnaden gäller."
        note, errors["note"] = one_line(values["note"], MAX_NOTE, required=False, what="")
        data = await asyncio.to_thread(read_year, bo, year)
        kind, _, target = values["target"].partition(":")
        line_id = target if kind == "rad" and data.plan is not None and data.plan.line(target) else None
        activity_id = target if kind == "aktivitet" and target in data.activity_lines else None
        errors["target"] = (
            "" if line_id or activity_id else "Välj en rad i handlingsplanen eller en aktivitet som kostnaden hör till."
        )
        errors = {k: v for k, v in errors.items() if v}
        if errors or day is None or amount is None or category is None:
            return await economy_page(request, member, year, 422, values=values, errors=errors)
        cost = Cost(
            year=year,
            line_id=line_id,
            activity_id=activity_id,
            amount_ore=amount,
            date=day,
            category=category,
            note=note,
        )
        try:
            recorded = await asyncio.to_thread(bo.store.add_cost, cost)
        except StoreError:  # the line or activity went away since the page was read
            errors["target"] = "Raden eller aktiviteten finns inte längre. Välj igen."
            return await economy_page(request, member, year, 409, values=values, errors=errors)
        await bo.audit(
            OFFICE,
            member,
            "cost_added",
            f"Kostnad {year}: {kronor(amount)} ({category.value}) på {target_text(cost, data)}",
            cost_id=recorded.id,
            year=year,
            amount_ore=amount,
            line_id=line_id,
            on_activity=activity_id,
        )
        log.info("cost added", staff_id=member.id, year=year, cost_id=recorded.id)
        return RedirectResponse(f"{YEAR}/{year}/ekonomi?klart=tillagd#kostnader", status_code=303)

    async def the_cost(
        request: Request, member: StaffMember, year_text: str, cost_text: str
    ) -> tuple[int, RecordedCost] | HTMLResponse:
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        number = int(cost_text) if cost_text.isascii() and cost_text.isdigit() and len(cost_text) <= 12 else None
        cost = await asyncio.to_thread(bo.store.cost, number) if number is not None else None
        if cost is None or cost.year != year:
            return unknown(
                request,
                member,
                "Kostnaden finns inte",
                "Kostnaden finns inte, eller så har någon redan tagit bort den.",
                f"{YEAR}/{year}/ekonomi#kostnader",
            )
        return year, cost

    @router.get("/year/{year_text}/costs/{cost_text}/remove", response_class=HTMLResponse)
    async def remove_cost_form(
        request: Request, year_text: str, cost_text: str, member: StaffMember = Depends(bo.coordinator)
    ) -> HTMLResponse:
        found = await the_cost(request, member, year_text, cost_text)
        if isinstance(found, HTMLResponse):
            return found
        year, cost = found
        data = await asyncio.to_thread(read_year, bo, year)
        return bo.page(
            request,
            "admin/year_cost_remove.html",
            member=member,
            title="Ta bort kostnad",
            year=year,
            cost=cost,
            amount=kronor(cost.amount_ore),
            target=target_text(cost, data),
        )

    @router.post("/year/{year_text}/costs/{cost_text}/remove", response_class=HTMLResponse)
    async def remove_cost(
        request: Request, year_text: str, cost_text: str, member: StaffMember = Depends(bo.coordinator)
    ) -> Response:
        await bo.form(request)
        found = await the_cost(request, member, year_text, cost_text)
        if isinstance(found, HTMLResponse):
            return found
        year, cost = found
        try:
            removed = await asyncio.to_thread(bo.store.remove_cost, cost.id)
        except StoreError:  # removed by someone else in between
            return unknown(
                request,
                member,
                "Kostnaden finns inte",
                "Kostnaden finns inte, eller så har någon redan tagit bort den.",
                f"{YEAR}/{year}/ekonomi#kostnader",
            )
        await bo.audit(
            OFFICE,
            member,
            "cost_removed",
            f"Kostnad {year} borttagen: {kronor(removed.amount_ore)} ({removed.category.value})",
            cost_id=removed.id,
            year=year,
            amount_ore=removed.amount_ore,
            line_id=removed.line_id,
            on_activity=removed.activity_id,
        )
        log.info("cost removed", staff_id=member.id, year=year, cost_id=removed.id)
        return RedirectResponse(f"{YEAR}/{year}/ekonomi?klart=borttagen#kostnader", status_code=303)

    @router.post("/year/{year_text}/costs/import", response_class=HTMLResponse)
    async def import_costs(request: Request, year_text: str, member: StaffMember = Depends(bo.coordinator)) -> Response:
        _, content, _ = await bo.upload(request, "file")
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        if not content:
            return await economy_page(
                request, member, year, 422, problems=[problem(None, "fil", "no_file", "no file", NO_FILE)]
            )

        def check() -> Any:
            return parse_costs(content, bo.store.year_lines(), {a.id for a in bo.store.activities()})

        result = await asyncio.to_thread(check)
        if not result.ok:
            log.info("costs import refused", staff_id=member.id, problems=len(result.problems))
            return await economy_page(request, member, year, 422, problems=result.problems)
        costs = [imported.cost for imported in result.costs]
        try:
            recorded = await asyncio.to_thread(bo.store.import_costs, costs, content)
        except StoreError as exc:
            text = ALREADY_IMPORTED if exc.code == "already_imported" else f"{exc}. Ingenting är ändrat."
            refusal = problem(None, "fil", exc.code, str(exc), text)
            return await economy_page(request, member, year, 409, problems=[refusal])
        years = sorted({c.year for c in costs})
        await bo.audit(
            OFFICE,
            member,
            "costs_imported",
            f"{len(recorded)} kostnader importerade ({kronor(result.total_ore)}) för "
            + ", ".join(str(y) for y in years),
            years=years,
            costs=len(recorded),
            total_ore=result.total_ore,
        )
        log.info("costs imported", staff_id=member.id, costs=len(recorded), years=years)
        return RedirectResponse(f"{YEAR}/{year}/ekonomi?klart=importerade#kostnader", status_code=303)

    # -- files ------------------------------------------------------------------------------------------------------
    def counted_of(request: Request) -> Counted | None:
        chosen = request.query_params.get("deltagare", "bekraftade")[:MAX_QUERY]
        return COUNTED_PARAMS.get(chosen)

    async def basis_of(year: int, counted: Counted) -> InvoiceBasis:
        def build() -> InvoiceBasis:
            plan = bo.store.action_plan(year)
            names = {o.id: o.name for o in bo.store.organisations()}
            return invoice_basis(year, plan, fee_activities(bo.store, year, counted), names, counted)

        return await asyncio.to_thread(build)

    def download(body: bytes, filename: str, media_type: str) -> Response:
        return Response(
            body,
            media_type=media_type,
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
        )

    @router.get("/year/{year_text}/fakturaunderlag.{suffix}")
    async def invoice_file(
        request: Request, year_text: str, suffix: str, member: StaffMember = Depends(bo.staff)
    ) -> Response:
        year, counted = year_of(year_text), counted_of(request)
        if year is None or counted is None or suffix not in ("xlsx", "csv"):
            return unknown(
                request, member, "Filen finns inte", "Det finns ingen sådan fil.", f"{YEAR}/{year or this_year()}"
            )
        basis = await basis_of(year, counted)
        name = f"fakturaunderlag-{year}-{'narvarande' if counted == 'attended' else 'bekraftade'}.{suffix}"
        log.info("invoice basis downloaded", staff_id=member.id, year=year, counted=counted, format=suffix)
        if suffix == "csv":
            return download(invoice_basis_csv(basis), name, "text/csv; charset=utf-8")
        body = await asyncio.to_thread(invoice_basis_xlsx, basis)
        return download(body, name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @router.get("/year/{year_text}/budget-utfall.csv")
    async def outcome_file(request: Request, year_text: str, member: StaffMember = Depends(bo.staff)) -> Response:
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)

        def build() -> YearOutcome:
            data = read_year(bo, year)
            return year_outcome(year, data.plan, bo.store.costs(year), data.activity_lines)

        outcome = await asyncio.to_thread(build)
        return download(outcome_csv(outcome), f"budget-och-utfall-{year}.csv", "text/csv; charset=utf-8")

    return router
