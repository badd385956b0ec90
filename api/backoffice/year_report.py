"""The annual report in the back-office: `/admin/year/<year>/verksamhetsrapport`.

- `GET .../verksamhetsrapport`: what the report holds (activities, outcomes, participants, budget and outcome) and
  links to the files.
- `GET .../verksamhetsrapport.docx`: `verksamhetsrapport-<year>.docx` (`activities_impl.annual_report_docx`), for the
  office to edit further in Word.
- `GET .../verksamhetsrapport.zip`: the DOCX and one CSV per table.

Everybody signed in may read and download them, viewers too: the report holds counts only, no personal data.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from activities_impl.annual_report import build_annual_report
from activities_impl.annual_report_docx import csv_tables, docx_name, render_docx, zip_bundle
from api.backoffice.context import ADMIN, BackOffice
from api.backoffice.year_pages import year_of
from domain.annual_report import OUTCOME_LABELS, AnnualReport
from domain.money import kronor
from domain.tables import StaffMember

log = structlog.get_logger("runflow.backoffice.year_report")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def report_path(year: int) -> str:
    return f"{ADMIN}/year/{year}/verksamhetsrapport"


def _download(body: bytes, name: str, media_type: str) -> Response:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )


def year_report_router(bo: BackOffice) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def no_year(request: Request, member: StaffMember) -> HTMLResponse:
        return bo.message(
            request,
            "Året finns inte",
            ["Skriv ett år mellan 2000 och 2100."],
            404,
            "bad",
            member=member,
            back=f"{ADMIN}/",
            back_text="Till översikten",
        )

    async def report_of(year: int) -> AnnualReport:
        return await asyncio.to_thread(build_annual_report, bo.store, year)

    @router.get("/year/{year_text}/verksamhetsrapport", response_class=HTMLResponse)
    async def page(request: Request, year_text: str, member: StaffMember = Depends(bo.staff)) -> HTMLResponse:
        year = year_of(year_text)
        if year is None:
            return no_year(request, member)
        report = await report_of(year)
        areas = [(area.name, area.activities) for area in report.areas]
        if report.outside:
            areas.append(("Aktiviteter utanför handlingsplanen", report.outside))
        return bo.page(
            request,
            "admin/year_report.html",
            member=member,
            title=f"Verksamhetsrapport {year}",
            year=year,
            report=report,
            areas=areas,
            outcome_labels=OUTCOME_LABELS,
            budget=kronor(report.budget_ore),
            outcome=kronor(report.outcome_ore),
            docx=f"{report_path(year)}.docx",
            bundle=f"{report_path(year)}.zip",
            docx_name=docx_name(year),
            csv_names=[t.name for t in csv_tables(report)],
            took_part=[m.name for m in report.took_part],
            did_not=[m.name for m in report.did_not_take_part],
        )

    @router.get("/year/{year_text}/verksamhetsrapport.{suffix}")
    async def download(
        request: Request, year_text: str, suffix: str, member: StaffMember = Depends(bo.staff)
    ) -> Response:
        year = year_of(year_text)
        if year is None or suffix not in ("docx", "zip"):
            return (
                no_year(request, member)
                if year is None
                else bo.message(
                    request,
                    "Filen finns inte",
                    ["Det finns ingen sådan fil."],
                    404,
                    "bad",
                    member=member,
                    back=report_path(year),
                )
            )
        report = await report_of(year)
        log.info("annual report downloaded", staff_id=member.id, year=year, format=suffix)
        if suffix == "docx":
            return _download(await asyncio.to_thread(render_docx, report), docx_name(year), DOCX)
        return _download(
            await asyncio.to_thread(zip_bundle, report), f"verksamhetsrapport-{year}.zip", "application/zip"
        )

    return router
