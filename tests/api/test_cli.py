"""The `runflow` CLI contract, without a Temporal server.

Every command that prints data takes `--json` and then prints exactly one JSON
object; bad input exits with code 2 and one `error:` line on stderr naming the
problem; an unreachable Temporal server exits with code 1 and one clear line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities_impl.store import Store
from domain.reference import default_reference
from runflow.cli import app
from tests.support.ports import free_port
from worker.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lasa-skriva.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")


# -- helpers ---------------------------------------------------------------
def run(*args: str):
    return CliRunner().invoke(app, list(args))


def one_json_object(stdout: str) -> dict:
    """stdout is exactly one JSON object (and nothing else)."""
    text = stdout.strip()
    assert text, "nothing on stdout"
    data, end = json.JSONDecoder().raw_decode(text)
    assert end == len(text), f"more than one JSON value on stdout: {stdout!r}"
    assert isinstance(data, dict)
    return data


def one_error_line(result, code: int = 2) -> str:
    """Exit `code`, nothing on stdout, and exactly one non-empty `error:` line on stderr."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert result.stdout.strip() == "", f"unexpected stdout: {result.stdout!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """Settings pointing at a closed local port and a fresh data dir in tmp."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(data_dir))
    for name in (
        "RUNFLOW_DATABASE_URL",
        "RUNFLOW_TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "RUNFLOW_TEMPORAL_NAMESPACE",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def write_plan(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def changed(old: str, new: str) -> str:
    assert old in EXAMPLE_TEXT, old
    return EXAMPLE_TEXT.replace(old, new)


# -- plan check --------------------------------------------------------------
def test_plan_check_example_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("plan", "check", "examples/lasa-skriva.yaml", "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json_object(result.stdout)
    assert data["valid"] is True
    assert data["id"] == "lasa-skriva-ht27"
    assert data["sessions"] == 3
    assert result.stderr == ""


def test_plan_check_example_human(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("plan", "check", "examples/lasa-skriva.yaml")
    assert result.exit_code == 0, result.stderr
    assert "OK" in result.stdout
    assert "lasa-skriva-ht27" in result.stdout
    assert result.stderr == ""


INVALID_PLANS = {
    "min-above-places": (changed("min_participants: 20", "min_participants: 50"), "min_participants"),
    "unknown-organisation": (
        changed("organisations: [all]", "organisations: [atlantis]"),
        "invitation.organisations[0]",
    ),
    "bad-duration": (changed("grace_period: 3d", "grace_period: three days"), "grace_period"),
    "invalid-yaml": ("id: [unclosed\ntitle: x\n", "plan"),
    "not-a-mapping": ("- a\n- b\n", "plan"),
}


@pytest.mark.parametrize("case", sorted(INVALID_PLANS))
def test_plan_check_invalid_json(tmp_path, case):
    text, field = INVALID_PLANS[case]
    path = write_plan(tmp_path, f"{case}.yaml", text)
    result = run("plan", "check", str(path), "--json")
    assert result.exit_code == 2
    data = one_json_object(result.stdout)
    assert data["valid"] is False
    assert data["problems"], data
    for problem in data["problems"]:
        assert set(problem) >= {"field", "message"}
        assert problem["message"]
    assert field in [p["field"] for p in data["problems"]]
    # Nothing but (at most) one error line besides the JSON.
    assert len([line for line in result.stderr.splitlines() if line.strip()]) <= 1


@pytest.mark.parametrize("case", sorted(INVALID_PLANS))
def test_plan_check_invalid_human(tmp_path, case):
    text, field = INVALID_PLANS[case]
    path = write_plan(tmp_path, f"{case}.yaml", text)
    line = one_error_line(run("plan", "check", str(path)))
    assert f"{field}:" in line
    assert str(path) in line


def test_plan_check_names_the_bad_duration(tmp_path):
    path = write_plan(tmp_path, "p.yaml", changed("grace_period: 3d", "grace_period: three days"))
    line = one_error_line(run("plan", "check", str(path)))
    assert "three days" in line


def test_plan_check_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    line = one_error_line(run("plan", "check", str(path)))
    assert "plan:" in line and "cannot read" in line

    result = run("plan", "check", str(path), "--json")
    assert result.exit_code == 2
    data = one_json_object(result.stdout)
    assert data["valid"] is False
    assert data["problems"][0]["field"] == "plan"
    assert "cannot read" in data["problems"][0]["message"]


def test_plan_check_several_problems_on_one_line(tmp_path):
    text = changed("min_participants: 20", "min_participants: 50").replace(
        "organisations: [all]", "organisations: [atlantis]"
    )
    path = write_plan(tmp_path, "two.yaml", text)
    line = one_error_line(run("plan", "check", str(path)))
    assert "min_participants:" in line and "invitation.organisations[0]:" in line

    result = run("plan", "check", str(path), "--json")
    assert result.exit_code == 2
    data = one_json_object(result.stdout)
    assert {p["field"] for p in data["problems"]} == {"min_participants", "invitation.organisations[0]"}


# -- register ----------------------------------------------------------------
REGISTER = ["register", "lasa-skriva-ht27", "--name", "Anna Andersson", "--org", "sundsvall", "--role", "lärare"]


def test_register_bad_email(env):
    line = one_error_line(run(*REGISTER, "--email", "not-an-address"))
    assert "e-mail" in line and "not-an-address" in line


def test_register_bad_email_json(env):
    line = one_error_line(run(*REGISTER, "--email", "not-an-address", "--json"))
    assert "e-mail" in line


def test_register_team_size_zero(env):
    line = one_error_line(run(*REGISTER, "--email", "anna@example.se", "--team-size", "0", "--json"))
    assert "--team-size" in line


def test_register_missing_option(env):
    line = one_error_line(run("register", "lasa-skriva-ht27", "--email", "anna@example.se"))
    assert "--name" in line


# -- decide ------------------------------------------------------------------
def test_decide_extend_without_until(env):
    line = one_error_line(run("decide", "lasa-skriva-ht27", "extend", "--json"))
    assert "--until" in line


def test_decide_extend_until_without_offset(env):
    line = one_error_line(run("decide", "lasa-skriva-ht27", "extend", "--until", "2027-01-01T10:00", "--json"))
    assert "timezone offset" in line
    assert "2027-01-01T10:00" in line


def test_decide_extend_until_not_a_time(env):
    line = one_error_line(run("decide", "lasa-skriva-ht27", "extend", "--until", "next tuesday"))
    assert "ISO-8601" in line


def test_decide_postpone_without_plan(env):
    line = one_error_line(run("decide", "lasa-skriva-ht27", "postpone", "--json"))
    assert "--plan" in line


def test_decide_until_with_other_action(env):
    line = one_error_line(run("decide", "lasa-skriva-ht27", "run", "--until", "2027-01-01T10:00+01:00"))
    assert "--until" in line


def test_decide_unknown_action(env):
    line = one_error_line(run("decide", "lasa-skriva-ht27", "bogus", "--json"))
    assert "bogus" in line
    for action in ("run", "cancel", "extend", "postpone"):
        assert action in line


# -- activity ------------------------------------------------------------------
def test_activity_list_unknown_phase(env):
    line = one_error_line(run("activity", "list", "--phase", "nonsense", "--json"))
    assert "nonsense" in line
    for phase in ("planned", "open", "deciding", "confirmed", "completed", "cancelled"):
        assert phase in line


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_activity_start_unreachable_temporal(env, as_json):
    args = ["activity", "start", str(EXAMPLE)] + (["--json"] if as_json else [])
    began = time.monotonic()
    result = run(*args)
    elapsed = time.monotonic() - began
    line = one_error_line(result, code=1)
    assert "cannot reach Temporal" in line
    assert get_settings().temporal_address in line
    assert elapsed < 15, f"connecting to a closed port took {elapsed:.1f}s"


def test_activity_start_bad_plan_is_input_error(env, tmp_path):
    path = write_plan(tmp_path, "bad.yaml", changed("min_participants: 20", "min_participants: 50"))
    line = one_error_line(run("activity", "start", str(path), "--json"))
    assert "min_participants" in line


# -- report ------------------------------------------------------------------
def test_report_missing(env):
    env.mkdir(parents=True)
    store = Store(get_settings().effective_database_url)
    store.migrate()
    store.seed_reference(default_reference())
    assert store.report("lasa-skriva-ht27") is None
    line = one_error_line(run("report", "lasa-skriva-ht27", "--json"))
    assert "no report" in line and "lasa-skriva-ht27" in line


def test_report_after_db_upgrade(env):
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    line = one_error_line(run("report", "nothing-here"))
    assert "no report" in line


def test_report_store_not_set_up(env):
    line = one_error_line(run("report", "lasa-skriva-ht27", "--json"), code=1)
    assert "db upgrade" in line


# -- help ----------------------------------------------------------------------
def test_attendance_help_shows_present():
    result = run("attendance", "--help")
    assert result.exit_code == 0
    assert "--present" in result.stdout


def test_unknown_command_is_one_line():
    line = one_error_line(run("nosuch"))
    assert "nosuch" in line


def test_no_arguments_shows_help():
    result = run()
    assert "plan" in result.stdout + result.stderr
    assert "activity" in result.stdout + result.stderr


# -- participants --------------------------------------------------------------
def test_participants_lists_who_registered_as_json_and_csv(env):
    from domain.plan import load_plan

    env.mkdir(parents=True)
    store = Store(get_settings().effective_database_url)
    store.migrate()
    store.seed_reference(default_reference())
    plan = load_plan(str(EXAMPLE), default_reference())
    store.save_plan(plan, make_current=True)
    for seq, (email, status) in enumerate([("anna@skola.test", "confirmed"), ("bo@skola.test", "waitlisted")]):
        pid = store.upsert_participant(plan.id, name=f"P{seq}", email=email, organisation_id="berg", role="lärare")
        store.record_registration(
            registration_id=f"{plan.id}-r{seq}",
            activity_id=plan.id,
            participant_id=pid,
            status=status,
            team_size=1,
            seq=seq,
        )
    store.set_team_members(pid, ["Bo", "Cia"])
    result = run("participants", plan.id, "--json")
    assert result.exit_code == 0, result.stderr
    rows = one_json_object(result.stdout)["participants"]
    assert [(r["email"], r["status"], r["waitlist_position"]) for r in rows] == [
        ("anna@skola.test", "confirmed", None),
        ("bo@skola.test", "waitlisted", 1),
    ]
    assert rows[1]["team_members"] == ["Bo", "Cia"]
    csv_out = run("participants", plan.id, "--csv", "--status", "waitlisted")
    assert csv_out.exit_code == 0, csv_out.stderr
    lines = csv_out.stdout.splitlines()
    assert lines[0].startswith("registration_id,status,waitlist_position") and len(lines) == 2
    assert "bo@skola.test" in lines[1] and "Bo; Cia" in lines[1]
    assert "no activity" in one_error_line(run("participants", "nothing-here"))
    assert "unknown status" in one_error_line(run("participants", plan.id, "--status", "sleeping"))
