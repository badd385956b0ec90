"""`runflow year ...`: the year around the activities, on the store alone (no Temporal).

    runflow year plan import FILE [--json]       the year's action plan from YAML, CSV or XLSX (replaces the year's)
    runflow year plan show YEAR [--json]         its focus areas and lines, with budgets and fees
    runflow year costs import FILE [--json]      costs (utfall) from CSV or XLSX, all rows or none
    runflow year contributions YEAR [--json]     each municipality's contribution, the total and the year's means
    runflow year report YEAR --out DIR [--json]  the annual report: verksamhetsrapport-YEAR.docx and a CSV per table

The contract of every command: `--json` prints exactly one JSON object; bad input exits with code 2 and one
`error:` line (a file's problems: the first, by row and field, and how many more; `--json` lists them all); a store
that cannot be used exits with code 1. Amounts in JSON are whole öre (`*_ore`).

As in `runflow.cli`: only typer and the standard library at import, the rest when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from activities_impl.store import Store
    from domain.action_plan import ActionPlan
    from domain.import_problems import ImportProblem

year_app = typer.Typer(
    help="The year: the action plan (handlingsplan), costs (utfall), the municipalities' contributions.",
    no_args_is_help=True,
)
plan_app = typer.Typer(help="The year's action plan: import, show.", no_args_is_help=True)
costs_app = typer.Typer(
    help="Costs (utfall) on the action plan's lines and on activities: import.", no_args_is_help=True
)
year_app.add_typer(plan_app, name="plan")
year_app.add_typer(costs_app, name="costs")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
YearArgument = Annotated[int, typer.Argument(min=2000, max=2100, help="The year, e.g. 2020.")]
MAX_FILE_BYTES = 1024 * 1024


def _refuse_file(path: Path, problems: list[ImportProblem], as_json: bool) -> NoReturn:
    """Exit 2: with --json every problem as one JSON object, else one line with the first and how many more."""
    from domain.import_problems import summary
    from runflow.cli import emit, fail

    if as_json:
        emit({"valid": False, "file": str(path), "problems": [p.model_dump() for p in problems]}, True)
        raise typer.Exit(2)
    fail(f"{path}: {summary(problems)}")


def _read(path: Path) -> bytes:
    from runflow.cli import fail

    try:
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"{path}: cannot read it: {exc.strerror}")


def _with_store(work: Any) -> Any:
    """`runflow.cli.with_store`, with the store's refusals (`StoreError`) as exit 2 and one line."""
    from activities_impl.store import StoreError
    from runflow.cli import fail, with_store

    try:
        return with_store(work)
    except StoreError as exc:
        fail(str(exc))


def _kr(ore: int) -> str:
    from domain.money import kronor

    return kronor(ore).replace("\u00a0", " ")


# -- the action plan --------------------------------------------------------------------------------------------------
@plan_app.command("import")
def plan_import(file: Path, as_json: JsonFlag = False) -> None:
    """Check the action plan in FILE (YAML, CSV or XLSX) and store it as its year's, replacing the one there."""
    from domain.action_plan import ActionPlanError, action_plan_yaml, parse_action_plan_file
    from domain.spreadsheet import is_excel
    from runflow.cli import emit

    data = _read(file)
    try:
        plan = parse_action_plan_file(data, file.name)
    except ActionPlanError as exc:
        _refuse_file(file, exc.problems, as_json)
    from_yaml = not is_excel(data) and not file.name.casefold().endswith((".csv", ".xlsx", ".xls", ".txt"))
    source = data.decode("utf-8-sig") if from_yaml else action_plan_yaml(plan)

    def save(store: Store) -> tuple[Any, dict[str, str | None]]:
        saved = store.save_action_plan(plan, source, file.name)
        lines = set(plan.line_ids)
        return saved, {a: line for a, line in store.activity_lines(plan.year).items() if line and line not in lines}

    saved, astray = _with_store(save)
    data_out = {
        "year": plan.year,
        "period": plan.period,
        "replaced": saved.replaced,
        "areas": saved.areas,
        "lines": saved.lines,
        "budget_ore": plan.budget * 100,
        "line_ids": plan.line_ids,
        "activities_with_unknown_lines": astray,
    }
    if astray and not as_json:
        named = ", ".join(f"{a} ({line})" for a, line in astray.items())
        typer.echo(f"warning: activities of {plan.year} name lines this plan does not have: {named}", err=True)
    emit(
        data_out,
        as_json,
        f"{'replaced' if saved.replaced else 'imported'} the action plan for {plan.year} ({plan.period}): "
        f"{saved.areas} focus areas, {saved.lines} lines, budget {_kr(plan.budget * 100)}",
    )


def _plan_data(plan: ActionPlan) -> dict[str, Any]:
    return {
        "year": plan.year,
        "period": plan.period,
        "rate_ore": plan.rate_ore,
        "carried_over_ore": plan.carried_over * 100,
        "budget_ore": plan.budget * 100,
        "areas": [
            {
                "name": area.name,
                "budget_ore": area.total_budget * 100,
                "budget_per_area": area.budget is not None,
                "lines": [
                    {
                        "id": line.id,
                        "what": line.what,
                        "how": line.how,
                        "budget_ore": line.budget * 100,
                        "fee_ore": line.fee * 100 if line.fee is not None else None,
                    }
                    for line in area.lines
                ],
            }
            for area in plan.areas
        ],
    }


@plan_app.command("show")
def plan_show(year: YearArgument, as_json: JsonFlag = False) -> None:
    """The year's action plan: focus areas, lines (id, what, how, budget, fee), the total."""
    from runflow.cli import emit, fail

    plan, source = _with_store(lambda store: (store.action_plan(year), store.action_plan_source(year)))
    if plan is None:
        fail(f"no action plan for {year} (import one with `runflow year plan import FILE`)")
    data = _plan_data(plan) | {"source": source.name, "imported_at": source.imported_at.isoformat()}
    lines = [
        f"Action plan {plan.year} ({plan.period}): {_kr(plan.rate_ore)} per inhabitant, "
        f"carried over {_kr(plan.carried_over * 100)}"
    ]
    for area in plan.areas:
        lines.append(f"{area.name}: {_kr(area.total_budget * 100)}" + (" (for the area)" if area.budget else ""))
        for line in area.lines:
            fee = f", fee {_kr(line.fee * 100)}" if line.fee is not None else ""
            how = f" – {line.how}" if line.how else ""
            lines.append(f"  {line.id}: {line.what}{how}: {_kr(line.budget * 100)}{fee}")
    lines.append(f"total: {_kr(plan.budget * 100)}")
    emit(data, as_json, "\n".join(lines))


# -- costs ------------------------------------------------------------------------------------------------------------
@costs_app.command("import")
def costs_import(file: Path, as_json: JsonFlag = False) -> None:
    """Record the costs in FILE (CSV or XLSX: rad or aktivitet, belopp, datum, kategori, anteckning), all or none;
    the same file twice is refused."""
    from domain.costs import CostsImport, parse_costs
    from runflow.cli import emit

    data = _read(file)

    def load(store: Store) -> CostsImport:
        return parse_costs(data, store.year_lines(), {a.id for a in store.activities()})

    result = _with_store(load)
    if not result.ok:
        _refuse_file(file, result.problems, as_json)
    costs = [imported.cost for imported in result.costs]
    recorded = _with_store(lambda store: store.import_costs(costs, data))
    years = sorted({c.year for c in costs})
    emit(
        {
            "imported": len(recorded),
            "total_ore": result.total_ore,
            "years": years,
            "ids": [c.id for c in recorded],
        },
        as_json,
        f"imported {len(recorded)} costs ({_kr(result.total_ore)}) for {', '.join(map(str, years))}",
    )


# -- contributions --------------------------------------------------------------------------------------------------
@year_app.command("contributions")
def contributions(year: YearArgument, as_json: JsonFlag = False) -> None:
    """Each municipality's contribution (the action plan's rate × its population on 31 December the year before),
    the total, and the year's means with the surplus carried over."""
    from domain.action_plan import DEFAULT_RATE
    from domain.contributions import default_population, year_means
    from domain.reference import OrganisationKind, default_reference
    from runflow.cli import emit, fail

    plan = _with_store(lambda store: store.action_plan(year))
    figures = default_population().for_year(year)
    if figures is None:
        fail(f"no population figures for {year} or earlier (domain/data/population.yaml)")
    municipalities = [o for o in default_reference().organisations if o.kind is OrganisationKind.MUNICIPALITY]
    rate_ore = plan.rate_ore if plan is not None else int(DEFAULT_RATE * 100)
    carried_ore = plan.carried_over * 100 if plan is not None else 0
    means = year_means(year, rate_ore, carried_ore, figures, [o.id for o in municipalities])
    names = {o.id: o.short_name for o in municipalities}
    data = {
        "year": year,
        "action_plan": plan is not None,
        "rate_ore": means.rate_ore,
        "population_as_of": means.as_of.isoformat(),
        "population_of_the_year": means.exact,
        "source": means.source,
        "contributions": [
            {
                "organisation_id": c.organisation_id,
                "name": names[c.organisation_id],
                "population": c.population,
                "amount_ore": c.amount_ore,
            }
            for c in means.contributions
        ],
        "population": means.population,
        "total_ore": means.total_ore,
        "carried_over_ore": means.carried_over_ore,
        "means_ore": means.means_ore,
    }
    if not as_json:
        if plan is None:
            typer.echo(
                f"warning: no action plan for {year}: {_kr(rate_ore)} per inhabitant, nothing carried over", err=True
            )
        if not means.exact:
            typer.echo(f"warning: no population figures for {year}: those of {means.as_of.isoformat()}", err=True)
    width = max(len(name) for name in names.values())
    lines = [f"Contributions {year}: {_kr(rate_ore)} per inhabitant, population {means.as_of.isoformat()}"]
    for c in means.contributions:
        population = f"{c.population:>7,}".replace(",", " ") if c.population is not None else "      –"
        lines.append(f"  {names[c.organisation_id]:<{width}}  {population}  {_kr(c.amount_ore):>14}")
    lines += [
        f"total: {_kr(means.total_ore)} ({means.population:,} inhabitants)".replace(",", " "),
        f"carried over: {_kr(means.carried_over_ore)}",
        f"means: {_kr(means.means_ore)}",
    ]
    emit(data, as_json, "\n".join(lines))


# -- the annual report ------------------------------------------------------------------------------------------------
@year_app.command("report")
def report(
    year: YearArgument,
    out: Annotated[Path, typer.Option("--out", help="The directory to write into (created if need be).")],
    as_json: JsonFlag = False,
) -> None:
    """The annual report (verksamhetsrapport): verksamhetsrapport-YEAR.docx, to edit further in Word, and one CSV
    per table, from the store (activities, action plan, costs, contributions, earlier years)."""
    from runflow.cli import emit, fail

    if out.exists() and not out.is_dir():
        fail(f"{out}: not a directory")
    from activities_impl.annual_report import build_annual_report
    from activities_impl.annual_report_docx import write_report

    annual = _with_store(lambda store: build_annual_report(store, year))
    try:
        files = write_report(annual, str(out))
    except OSError as exc:
        fail(f"{out}: cannot write the report: {exc.strerror}")
    summary = annual.summary
    emit(
        {
            "year": year,
            "directory": str(out),
            "files": files,
            "action_plan": annual.period is not None,
            "activities": summary.activities,
            "ran": summary.ran,
            "cancelled": summary.cancelled,
            "postponed": summary.postponed,
            "participants": summary.participants,
            "municipalities": summary.municipalities,
            "budget_ore": annual.budget_ore,
            "outcome_ore": annual.outcome_ore,
        },
        as_json,
        f"wrote {out / files[0]} and {len(files) - 1} CSV files: {summary.activities} activities "
        f"({summary.ran} ran, {summary.cancelled} cancelled, {summary.postponed} postponed), "
        f"{summary.participants} participants from {summary.municipalities} municipalities, "
        f"budget {_kr(annual.budget_ore)}, outcome {_kr(annual.outcome_ore)}",
    )
