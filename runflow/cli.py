"""`runflow`: the coordinators' command line.

Every command that prints data takes `--json` and then prints exactly one
JSON object. Bad input exits with code 2 and one line naming the problem;
an unreachable server exits with code 1.

Commands import the heavy parts they use (the Temporal client, the store, the
worker, the web server) when they run, so that `runflow --help` and a refused
argument answer at once. No import here dodges a cycle: the layers are checked
by import-linter (`make lint`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from domain.phases import Phase
from runflow.output import activity_lines, json_text  # the standard library only
from runflow.schedule_cli import schedule_app  # typer only at import
from runflow.year_cli import year_app  # typer only at import, like this module

if TYPE_CHECKING:
    from activities_impl.store import Store
    from api.service import Service
    from domain.lifecycle import ActivityStatus
    from domain.plan import ActivityPlan
    from domain.tables import StaffMember

# What `runflow --help` and every command's argument parsing need is above: typer and the standard library (and
# `domain.phases`, an enum). Everything else is imported by the command that uses it, when it runs: the Temporal
# client, the store (SQLAlchemy), the worker, the web, even pydantic (the settings, the plan). A test keeps it so
# (tests/api/test_cli_imports.py); `python -X importtime -m runflow --help` shows what is imported.


def _usage_error(exc: BaseException) -> bool:
    """A command-line usage error (bad option value, missing argument...), but not the help shown for no arguments.

    Recognised by its class names, so no private module of typer (which vendors click) is needed."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "UsageError" in names and "NoArgsIsHelpError" not in names and hasattr(exc, "format_message")


def one_line(text: str) -> str:
    """Messages such as YAML errors span lines; the contract wants one."""
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


class OneLineUsageErrors(TyperGroup):
    """Usage errors (bad option values, missing arguments) as one `error:` line with exit code 2."""

    @staticmethod
    def _one_line_exit(exc: Any) -> typer.Exit:
        typer.echo(f"error: {one_line(exc.format_message())}", err=True)
        return typer.Exit(2)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except Exception as exc:
            if not _usage_error(exc):
                raise
            raise self._one_line_exit(exc) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not _usage_error(exc):
                raise
            raise self._one_line_exit(exc) from None


app = typer.Typer(
    help="runflow: the lifecycle of RUN's competence-development activities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, as click prints it: rich's boxes cost ~70 ms of imports (rich, markdown-it, Pygments, attrs), half
    # of what `runflow --help` takes with them (BENCHMARKS.md, the CLI). The sub-commands' help follows this setting.
    rich_markup_mode=None,
    cls=OneLineUsageErrors,
)
plan_app = typer.Typer(help="Activity plans.", no_args_is_help=True)
activity_app = typer.Typer(help="Activities: start, show, list.", no_args_is_help=True)
db_app = typer.Typer(help="The store.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff who sign in to the back-office (/admin): add, link, list, deactivate, token.")
app.add_typer(plan_app, name="plan")
app.add_typer(activity_app, name="activity")
app.add_typer(db_app, name="db")
app.add_typer(staff_app, name="staff")
app.add_typer(schedule_app, name="schedule")
app.add_typer(year_app, name="year")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
# The values of `domain.lifecycle.OverrideAction` (a pydantic module, which `--help` need not import; a test keeps
# the two the same).
DecisionName = Literal["run", "extend", "postpone", "cancel"]
T = TypeVar("T")


class BadInput(Exception):
    pass


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def emit(data: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    if as_json:
        typer.echo(json_text(data))
    else:
        typer.echo(human if human is not None else "\n".join(f"{k}: {v}" for k, v in data.items()))


def read_plan(path: Path) -> ActivityPlan:
    from domain.plan import PlanError, load_plan
    from domain.reference import default_reference

    try:
        return load_plan(str(path), default_reference())
    except PlanError as exc:
        if len(exc.problems) == 1:
            fail(f"{path}: {exc.problems[0]}")
        typer.echo(
            one_line(f"error: {path}: {len(exc.problems)} problems: " + "; ".join(map(str, exc.problems))), err=True
        )
        raise typer.Exit(2) from None


def email_option(option: str, text: str) -> str:
    """The normalised address, or exit 2 with one line naming the option and why."""
    from domain.email_address import InvalidEmail, parse_email
    from domain.plan_source import shown

    try:
        return parse_email(text)
    except InvalidEmail as exc:
        fail(f"{option} {shown(text)}: {exc}")


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"not an ISO-8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise BadInput(f"the time {text!r} needs a timezone offset, e.g. {text}+01:00")
    return value


def outcome(result: T | BaseException) -> T:
    """A result of `asyncio.gather(..., return_exceptions=True)`, or its exception raised."""
    if isinstance(result, BaseException):
        raise result
    return result


def run_with_service(work: Callable[[Service], Awaitable[T]]) -> T:
    """Connect, run `work`, and turn refusals into exit code 2 and connection trouble into exit code 1."""
    import asyncio

    from api.service import Refused, Service, Unconfirmed
    from worker.client import connect
    from worker.settings import get_settings
    from worker.wiring import open_store

    settings = get_settings()

    async def main() -> T:
        try:
            client = await connect(settings)
        except Exception as exc:  # noqa: BLE001 - any connection failure is reported the same way
            raise ConnectionError(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
        return await work(Service(client, open_store(settings), settings.task_queue))

    try:
        return asyncio.run(main())
    except (Refused, BadInput) as exc:
        fail(str(exc))
    except (ConnectionError, Unconfirmed) as exc:
        fail(str(exc), code=1)


# -- plan ----------------------------------------------------------------
@plan_app.command("check")
def plan_check(file: Path, as_json: JsonFlag = False) -> None:
    """Validate a plan file; name every problem by its field."""
    from domain.plan import PlanError, load_plan
    from domain.reference import default_reference

    try:
        plan = load_plan(str(file), default_reference())
    except PlanError as exc:
        if as_json:
            emit({"valid": False, "problems": [p.model_dump() for p in exc.problems]}, True)
        else:
            typer.echo(one_line(f"error: {file}: " + "; ".join(map(str, exc.problems))), err=True)
        raise typer.Exit(2) from None
    emit(
        {
            "valid": True,
            "id": plan.id,
            "title": plan.title,
            "sessions": len(plan.sessions),
            "deadline": plan.registration.deadline.isoformat(),
        },
        as_json,
        f"{file}: OK ({plan.id}, {len(plan.sessions)} sessions, deadline {plan.registration.deadline.isoformat()})",
    )


# -- activity ------------------------------------------------------------
@activity_app.command("start")
def activity_start(file: Path, as_json: JsonFlag = False) -> None:
    """Start the lifecycle workflow of the activity in FILE."""
    plan = read_plan(file)

    async def work(service: Service) -> dict[str, Any]:
        handle = await service.start(plan)
        return {"id": plan.id, "workflow_id": handle.id, "run_id": handle.result_run_id, "phase": "planned"}

    data = run_with_service(work)
    emit(data, as_json, f"started {plan.id} (workflow {data['workflow_id']})")


@activity_app.command("show")
def activity_show(activity_id: str, as_json: JsonFlag = False) -> None:
    """Phase, counts, next due time, sessions and decisions of one activity.

    With RUNFLOW_API_TOKEN and RUNFLOW_WEB_BASE_URL set, the `runflow` command asks the running web first (over HTTPS,
    or to this machine); the answer is the same."""
    data = _activity_directly(activity_id)  # the web was asked already, if at all (runflow/entry.py)
    emit(data, as_json, None if as_json else "\n".join(activity_lines(data)))


def _activity_directly(activity_id: str) -> dict[str, Any]:
    """`activity show`'s object from Temporal (the status query) and the store (surveys, undeliverable e-mails)."""
    from api.directory import Directory

    async def work(service: Service) -> tuple[ActivityStatus, list[dict[str, Any]], list[dict[str, Any]]]:
        import asyncio

        # The query waits on Temporal and the worker, the store reads on the database: side by side. A failure is
        # raised in the order they are listed (an unknown activity is refused before a store problem shows).
        status, undeliverable, surveys = await asyncio.gather(
            service.status(activity_id),
            service.undeliverable(activity_id),
            Directory(service.store).survey_counts(activity_id),
            return_exceptions=True,
        )
        return outcome(status), outcome(undeliverable), outcome(surveys)

    status, undeliverable, surveys = run_with_service(work)
    return {**status.model_dump(mode="json"), "surveys": surveys, "undeliverable": undeliverable}


@activity_app.command("list")
def activity_list(
    phase: Annotated[str | None, typer.Option(help="Only activities in this phase.")] = None,
    below_minimum: Annotated[bool, typer.Option("--below-minimum", help="Only those below their minimum.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """All activities, from Temporal's visibility (search attributes)."""
    if phase is not None and phase not in {p.value for p in Phase}:
        fail(f"unknown phase {phase!r} (one of {', '.join(p.value for p in Phase)})")
    rows = run_with_service(lambda service: service.list(phase, True if below_minimum else None))
    human = "\n".join(f"{r['id']}\t{r['phase']}\t{r['confirmed']}\t{r['status']}" for r in rows) or "no activities"
    emit({"activities": rows}, as_json, human)


# -- participants --------------------------------------------------------
@app.command()
def register(
    activity_id: str,
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str, typer.Option(help="E-mail address.")],
    org: Annotated[str, typer.Option(help="Organisation id, e.g. sundsvall.")],
    role: Annotated[str, typer.Option(help="Role, e.g. lärare.")],
    school: Annotated[str | None, typer.Option(help="School or unit.")] = None,
    team_size: Annotated[int, typer.Option(min=1, max=200, help="Members when registering a team.")] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Register a person (or a team) for an activity."""
    email = email_option("--email", email)
    if not name.strip():
        fail("the name must not be empty")
    result = run_with_service(
        lambda service: service.register(
            activity_id, name=name.strip(), email=email, organisation=org, role=role, school=school, team_size=team_size
        )
    )
    data = {
        "registration_id": result.registration_id,
        "status": result.status.value,
        "waitlist_position": result.waitlist_position,
    }
    human = f"{result.status.value}: {result.registration_id}"
    if result.waitlist_position:
        human += f" (waiting list position {result.waitlist_position})"
    emit(data, as_json, human)


@app.command()
def withdraw(
    activity_id: str, email: Annotated[str, typer.Option(help="The registrant's e-mail.")], as_json: JsonFlag = False
) -> None:
    """Withdraw a registration; the waiting list moves up."""
    email = email_option("--email", email)
    result = run_with_service(lambda service: service.withdraw(activity_id, email))
    emit(
        result.model_dump(mode="json"),
        as_json,
        f"withdrawn: {result.registration_id}"
        + (f", promoted {', '.join(result.promoted)}" if result.promoted else ""),
    )


@app.command()
def decide(
    activity_id: str,
    action: Annotated[DecisionName, typer.Argument(help="run | cancel | extend | postpone")],
    until: Annotated[str | None, typer.Option(help="New deadline for extend (ISO-8601 with offset).")] = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="The new plan file for postpone.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The coordinator's decision when enrolment is low."""
    from domain.lifecycle import OverrideAction

    decision = OverrideAction(action)
    if decision is OverrideAction.EXTEND and until is None:
        fail("extend needs --until with the new deadline")
    if decision is OverrideAction.POSTPONE and plan is None:
        fail("postpone needs --plan with the new plan file")
    if decision is not OverrideAction.EXTEND and until is not None:
        fail("--until only goes with extend")
    new_plan = read_plan(plan) if plan is not None else None
    try:
        new_deadline = parse_time(until) if until else None
    except BadInput as exc:
        fail(str(exc))
    phase = run_with_service(lambda service: service.decide(activity_id, decision, until=new_deadline, plan=new_plan))
    emit({"id": activity_id, "action": decision.value, "phase": phase}, as_json, f"{activity_id}: {phase}")


@app.command()
def attendance(
    activity_id: str,
    session_no: Annotated[int, typer.Argument(min=1)],
    present: Annotated[list[str], typer.Option("--present", help="E-mail of someone present.")],
    more: Annotated[list[str] | None, typer.Argument(help="More e-mails present.", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record who was present at a session (`--present a@x b@x ...`)."""
    emails = [email_option("--present", text) for text in [*present, *(more or [])]]
    count = run_with_service(lambda service: service.attendance(activity_id, session_no, emails))
    emit(
        {"id": activity_id, "session": session_no, "present": count}, as_json, f"session {session_no}: {count} present"
    )


PARTICIPANT_COLUMNS = [
    "registration_id",
    "status",
    "waitlist_position",
    "team_size",
    "name",
    "email",
    "organisation",
    "role",
    "school",
    "team_members",
    "registered_at",
]


@app.command()
def participants(
    activity_id: str,
    status: Annotated[
        str | None, typer.Option(help="Only this status: confirmed, waitlisted, withdrawn, cancelled.")
    ] = None,
    as_json: JsonFlag = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (one row per registration).")] = False,
) -> None:
    """Who registered: status, waiting-list position, organisation, role, school, team, registered at."""
    import asyncio
    import csv
    import io

    from sqlalchemy.exc import OperationalError

    from api.directory import Directory
    from domain.plan_source import shown
    from worker.settings import get_settings
    from worker.wiring import open_store

    statuses = ("confirmed", "waitlisted", "withdrawn", "cancelled")
    if status is not None and status not in statuses:
        fail(f"unknown status {shown(status)} (one of {', '.join(statuses)})")
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    settings = get_settings()
    directory = Directory(open_store(settings))
    try:
        if asyncio.run(directory.activity(activity_id)) is None:
            fail(f"no activity {shown(activity_id)}")
        rows = asyncio.run(directory.participants(activity_id, status))
    except OperationalError as exc:
        fail(f"cannot read the store at {settings.effective_database_url} ({exc.orig}); run `runflow db upgrade`", 1)
    for row in rows:
        row["registered_at"] = row["registered_at"].isoformat()
        row["team_members"] = "; ".join(row["team_members"]) if as_csv else row["team_members"]
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=PARTICIPANT_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
        return
    human = "\n".join(
        "\t".join(
            [
                r["registration_id"],
                r["status"] + (f" {r['waitlist_position']}" if r["waitlist_position"] is not None else ""),
                r["name"] or "(anonymised)",
                r["email"] or "",
                r["organisation"],
                r["role"],
            ]
        )
        for r in rows
    )
    emit({"id": activity_id, "participants": rows}, as_json, human or "no registrations")


@app.command()
def report(
    activity_id: str,
    out: Annotated[Path | None, typer.Option(help="Write report.md, report.csv and report.png here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The final report of a completed activity."""
    from sqlalchemy.exc import OperationalError

    from worker.settings import get_settings
    from worker.wiring import open_store

    settings = get_settings()
    try:
        row = open_store(settings).report(activity_id)
    except OperationalError as exc:
        fail(
            f"cannot read the store at {settings.effective_database_url} ({exc.orig}); run `runflow db upgrade` first",
            code=1,
        )
    if row is None:
        fail(f"no report for {activity_id!r} yet (it is made when the activity completes)")
    files = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for suffix, content in (("md", row.markdown.encode()), ("csv", row.csv.encode()), ("png", row.chart_png)):
            path = out / f"{activity_id}.{suffix}"
            path.write_bytes(content)
            files[suffix] = str(path)
    emit(
        {
            "id": activity_id,
            "created_at": row.created_at.isoformat(),
            "summary": json.loads(row.summary_json),
            "files": files,
        },
        as_json,
        row.markdown,
    )


# -- staff ---------------------------------------------------------------
def with_store(work: Callable[[Store], T]) -> T:
    """Run `work` on the store of the settings (no Temporal); an unreadable or unmigrated store exits with code 1."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from worker.settings import get_settings
    from worker.wiring import open_store

    settings = get_settings()
    try:
        return work(open_store(settings))
    except (OperationalError, ProgrammingError) as exc:
        fail(f"cannot use the store at {settings.effective_database_url} ({exc.orig}); run `runflow db upgrade`", 1)


def staff_row(member: StaffMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "email": member.email,
        "name": member.name,
        "role": member.role,
        "active": member.active,
        "oidc_linked": member.oidc_subject is not None,
        "created_at": member.created_at.isoformat(),
    }


def active_member(store: Store, email: str) -> StaffMember:
    """The active staff member with this address, or exit 2."""
    from domain.plan_source import shown

    member = store.staff_by_email(email)
    if member is None:
        fail(f"no staff member with --email {shown(email)} (add one with `runflow staff add`)")
    if not member.active:
        fail(f"the staff member {shown(email)} is deactivated (`runflow staff add` makes them active again)")
    return member


def text_option(option: str, text: str, longest: int, required: bool) -> str:
    """The stripped text, or exit 2 when it is too long, has a control character, or is empty but required."""
    from domain.control_characters import control_character

    if len(text) > longest:
        fail(f"{option} has more than {longest} characters")
    if control_character(text):
        fail(f"{option} has a control character")
    if required and not text.strip():
        fail(f"{option} must not be empty")
    return text.strip()


@staff_app.command("add")
def staff_add(
    email: Annotated[str, typer.Option(help="Their e-mail address (what sign-in links go to).")],
    role: Annotated[str, typer.Option(help="coordinator (changes everything) or viewer (reads only).")],
    name: Annotated[str, typer.Option(help="Their name, as the back-office shows it.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Add a staff member, or give an existing one this role (and make them active again)."""
    from domain.staff import MAX_STAFF_NAME, parse_role

    email = email_option("--email", email)
    try:
        chosen = parse_role(role)
    except ValueError as exc:
        fail(f"--role: {exc}")
    name = text_option("--name", name, MAX_STAFF_NAME, required=False)
    member, created = with_store(lambda store: store.add_staff(email, chosen, name))
    emit(
        {**staff_row(member), "created": created},
        as_json,
        f"{'added' if created else 'updated'} {member.id} {member.email} ({member.role})",
    )


@staff_app.command("link")
def staff_link(
    email: Annotated[str, typer.Option(help="The staff member's e-mail address.")],
    mail: Annotated[bool, typer.Option("--mail/--no-mail", help="Also e-mail the link (RUNFLOW_SMTP_*).")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Print a one-time sign-in link (valid 15 minutes) and e-mail it to the member."""
    import asyncio

    from api.backoffice.signin import new_signin_link, signin_mail
    from domain.staff import SIGNIN_LINK_LIFETIME
    from worker.settings import get_settings
    from worker.worker import smtp_mailer

    email = email_option("--email", email)
    settings = get_settings()
    at = datetime.now(UTC)

    def issue(store: Store) -> tuple[StaffMember, str]:
        member = active_member(store, email)
        return member, new_signin_link(store, settings.web_base_url, member, at)

    member, link = with_store(issue)
    mailed = False
    if mail:
        try:
            asyncio.run(smtp_mailer(settings).send(signin_mail(member, link, settings.smtp_from)))
            mailed = True
        except Exception as exc:  # noqa: BLE001 - the link is printed either way; say why it was not mailed
            typer.echo(
                f"warning: the link was not e-mailed ({type(exc).__name__} from "
                f"{settings.smtp_host}:{settings.smtp_port}); pass it on yourself",
                err=True,
            )
    data = {
        "id": member.id,
        "email": member.email,
        "link": link,
        "expires_at": (at + SIGNIN_LINK_LIFETIME).isoformat(),
        "mailed": mailed,
    }
    emit(data, as_json, link)


@staff_app.command("list")
def staff_list(as_json: JsonFlag = False) -> None:
    """Every staff member: id, e-mail, name, role, active, whether an identity provider account is linked."""
    rows = [staff_row(m) for m in with_store(lambda store: store.staff_members())]
    human = "\n".join(
        "\t".join([r["id"], r["email"], r["role"], "active" if r["active"] else "deactivated", r["name"]]) for r in rows
    )
    emit({"staff": rows}, as_json, human or "no staff members")


@staff_app.command("deactivate")
def staff_deactivate(
    email: Annotated[str, typer.Option(help="The staff member's e-mail address.")], as_json: JsonFlag = False
) -> None:
    """Deactivate a staff member: their sessions end and their tokens are revoked at once."""
    from domain.plan_source import shown

    email = email_option("--email", email)

    def deactivate(store: Store) -> StaffMember:
        member = store.staff_by_email(email)
        if member is None:
            fail(f"no staff member with --email {shown(email)}")
        store.set_staff_active(member.id, False, datetime.now(UTC))
        member.active = False
        return member

    member = with_store(deactivate)
    emit(staff_row(member), as_json, f"deactivated {member.id} {member.email}")


@staff_app.command("token")
def staff_token(
    email: Annotated[str, typer.Option(help="Whose token it is (it acts with their role).")],
    label: Annotated[str, typer.Option(help="What it is for, e.g. the script that uses it.")],
    as_json: JsonFlag = False,
) -> None:
    """Print a new personal token for the coordinators' API (/api); it is shown this once."""
    from domain.staff import MAX_TOKEN_LABEL, TokenKind

    email = email_option("--email", email)
    label = text_option("--label", label, MAX_TOKEN_LABEL, required=True)

    def issue(store: Store) -> tuple[StaffMember, str]:
        member = active_member(store, email)
        return member, store.issue_token(member.id, TokenKind.API, datetime.now(UTC), None, label)

    member, token = with_store(issue)
    emit({"id": member.id, "email": member.email, "role": member.role, "label": label, "token": token}, as_json, token)


# -- processes -----------------------------------------------------------
@app.command()
def worker() -> None:
    """Run a worker (settings from the environment)."""
    import asyncio

    from worker.settings import get_settings, secret_key_problem
    from worker.wiring import run_worker_forever

    settings = get_settings()
    problem = secret_key_problem(settings.secret_key)
    if problem is not None:  # the worker signs the withdrawal links in the e-mails
        fail(problem)
    asyncio.run(run_worker_forever(settings))


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    forwarded_allow_ips: Annotated[
        str | None, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted (comma-separated; '*' for all).")
    ] = None,
    connect_timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait for Temporal at start.")] = 60,
) -> None:
    """Run the web app (participant pages, /api, /codec) with uvicorn; settings from the environment."""
    from runflow.web_server import WebConfig, run_web

    raise typer.Exit(
        run_web(
            WebConfig(host=host, port=port, connect_timeout=connect_timeout, forwarded_allow_ips=forwarded_allow_ips)
        )
    )


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where Temporal, the store and the mail go.")] = Path("var"),
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend (gRPC) port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    web_port: Annotated[int, typer.Option(help="runflow web port.")] = 8000,
    smtp_port: Annotated[int, typer.Option(help="SMTP sink port.")] = 8025,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Start the demo activity.")] = True,
) -> None:
    """Start the embedded stack: Temporal dev server + UI, SMTP sink, worker, web; Ctrl-C stops it."""
    import asyncio

    from runflow.stack import StackConfig, run_stack

    config = StackConfig(
        data_dir=data_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        web_port=web_port,
        smtp_port=smtp_port,
        demo=demo,
    )
    try:
        sys.exit(asyncio.run(run_stack(config)))
    except ValueError as exc:  # bad settings, e.g. RUNFLOW_CODEC_KEYS
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's schema and seed the reference data."""
    from worker.settings import get_settings
    from worker.wiring import open_store

    open_store(get_settings(), migrate=True)
    typer.echo("store is up to date")


def main() -> None:
    """Run the CLI, then leave without interpreter teardown.

    The Temporal client's native threads can abort a finishing interpreter
    ("PyGILState_Release ... finalizing", temporalio/sdk-python#300), turning a
    successful command into a crash. Everything is flushed first; then os._exit.
    """
    import logging
    import os

    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
