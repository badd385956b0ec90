"""`runflow staff …`: staff members and their sign-in links and API tokens, on the store alone (no Temporal).

The same contract as every command: `--json` prints exactly one JSON object; bad input exits with code 2 and one
`error:` line; a store that cannot be used exits with code 1.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities_impl.store import Store
from domain.staff import TokenKind
from tests.api.test_cli import one_error_line, one_json_object, run
from tests.support.mail import read_mails, start_sink
from tests.support.ports import free_port
from worker.settings import get_settings


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """A migrated store in a fresh data dir, links pointing at https://run.example.se, SMTP at a closed port."""
    data_dir = tmp_path / "var"
    for name in list(os.environ):
        if name.startswith(("RUNFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RUNFLOW_WEB_BASE_URL", "https://run.example.se")
    monkeypatch.setenv("RUNFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RUNFLOW_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("RUNFLOW_SMTP_TIMEOUT", "5")
    get_settings.cache_clear()
    data_dir.mkdir(parents=True)
    store().migrate()
    yield data_dir
    get_settings.cache_clear()


def store() -> Store:
    return Store(get_settings().effective_database_url)


def add(email: str = "anna@miun.se", role: str = "coordinator", *more: str) -> dict:
    result = run("staff", "add", "--email", email, "--role", role, *more, "--json")
    assert result.exit_code == 0, result.stderr
    return one_json_object(result.stdout)


# -- add, list, deactivate ---------------------------------------------------------------------------------------
def test_add_list_and_deactivate(env):
    added = add("Anna@MIUN.se", "coordinator", "--name", "Anna Andersson")
    assert added["email"] == "anna@miun.se" and added["role"] == "coordinator" and added["created"] is True
    assert added["id"].startswith("st_") and added["active"] is True
    again = add("anna@miun.se", "viewer")
    assert again["id"] == added["id"] and again["created"] is False and again["role"] == "viewer"
    assert again["name"] == "Anna Andersson"  # kept when no new name is given
    add("bo@miun.se", "viewer")

    listed = one_json_object(run("staff", "list", "--json").stdout)["staff"]
    assert [(m["email"], m["role"], m["active"], m["oidc_linked"]) for m in listed] == [
        ("anna@miun.se", "viewer", True, False),
        ("bo@miun.se", "viewer", True, False),
    ]
    human = run("staff", "list")
    assert human.exit_code == 0 and "anna@miun.se\tviewer\tactive\tAnna Andersson" in human.stdout

    gone = run("staff", "deactivate", "--email", "bo@miun.se", "--json")
    assert gone.exit_code == 0 and one_json_object(gone.stdout)["active"] is False
    assert [m["active"] for m in one_json_object(run("staff", "list", "--json").stdout)["staff"]] == [True, False]
    assert run("staff", "deactivate", "--email", "bo@miun.se").stdout.startswith("deactivated st_")  # idempotent
    assert add("bo@miun.se", "viewer")["active"] is True  # added again: active again


def test_no_staff_yet(env):
    result = run("staff", "list")
    assert result.exit_code == 0 and result.stdout.strip() == "no staff members"
    assert one_json_object(run("staff", "list", "--json").stdout) == {"staff": []}


@pytest.mark.parametrize(
    "args, problem",
    [
        (["add", "--email", "not-an-address", "--role", "coordinator"], "--email"),
        (["add", "--email", "anna@miun.se", "--role", "boss"], "unknown role 'boss'"),
        (["add", "--email", "anna@miun.se", "--role", "viewer", "--name", "A" * 201], "--name has more than 200"),
        (["add", "--email", "anna@miun.se", "--role", "viewer", "--name", "Anna\x1b[31m"], "control character"),
        (["add", "--email", "anna@miun.se"], "--role"),
        (["deactivate", "--email", "nobody@miun.se"], "no staff member"),
        (["link", "--email", "nobody@miun.se"], "no staff member"),
        (["token", "--email", "nobody@miun.se", "--label", "ci"], "no staff member"),
        (["token", "--email", "anna@miun.se", "--label", "  "], "--label must not be empty"),
        (["token", "--email", "anna@miun.se", "--label", "x" * 101], "--label has more than 100"),
    ],
)
def test_bad_input_is_one_error_line(env, args, problem):
    add("anna@miun.se", "coordinator")
    assert problem in one_error_line(run("staff", *args))


def test_an_unmigrated_store_exits_with_code_1(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNFLOW_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("RUNFLOW_DATABASE_URL", raising=False)
    (tmp_path / "empty").mkdir()
    get_settings.cache_clear()
    try:
        assert "runflow db upgrade" in one_error_line(run("staff", "list"), code=1)
    finally:
        get_settings.cache_clear()


# -- link ----------------------------------------------------------------------------------------------------------
def test_link_prints_a_one_time_link_and_mails_it(env, tmp_path):
    add("anna@miun.se", "coordinator", "--name", "Anna")
    mail_dir = tmp_path / "mail"
    sink = start_sink(mail_dir, get_settings().smtp_port)
    try:
        result = run("staff", "link", "--email", "anna@miun.se", "--json")
    finally:
        sink.stop()
    assert result.exit_code == 0, result.stderr
    data = one_json_object(result.stdout)
    assert data["link"].startswith("https://run.example.se/admin/signin/") and data["mailed"] is True
    assert datetime.fromisoformat(data["expires_at"]) > datetime.now(UTC)
    (mail,) = read_mails(mail_dir)
    assert mail["To"] == "anna@miun.se" and "inloggningslänk" in mail["Subject"]
    assert data["link"] in mail.get_content()
    token = data["link"].rsplit("/", 1)[1]
    member = store().redeem_signin_link(token, datetime.now(UTC))
    assert member is not None and member.email == "anna@miun.se"
    assert store().redeem_signin_link(token, datetime.now(UTC)) is None  # once


def test_link_without_smtp_still_prints_the_link_and_says_why(env):
    add("anna@miun.se", "coordinator")
    result = run("staff", "link", "--email", "anna@miun.se")
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("https://run.example.se/admin/signin/")
    assert result.stderr.startswith("warning: the link was not e-mailed")
    quiet = run("staff", "link", "--email", "anna@miun.se", "--no-mail")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_no_link_for_a_deactivated_member(env):
    add("anna@miun.se", "coordinator")
    run("staff", "deactivate", "--email", "anna@miun.se")
    assert "deactivated" in one_error_line(run("staff", "link", "--email", "anna@miun.se", "--no-mail"))
    assert "deactivated" in one_error_line(run("staff", "token", "--email", "anna@miun.se", "--label", "ci"))


# -- token ---------------------------------------------------------------------------------------------------------
def test_token_prints_a_personal_api_token_once(env):
    added = add("anna@miun.se", "viewer")
    result = run("staff", "token", "--email", "anna@miun.se", "--label", "Rapportskript")
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("rfp_") and "\n" not in token
    member = store().token_holder(token, TokenKind.API, datetime.now(UTC))
    assert member is not None and member.id == added["id"]
    (kept,) = store().api_tokens(added["id"])
    assert kept.label == "Rapportskript" and kept.digest != token
    as_json = one_json_object(run("staff", "token", "--email", "anna@miun.se", "--label", "ci", "--json").stdout)
    assert as_json["token"].startswith("rfp_") and as_json["role"] == "viewer" and as_json["label"] == "ci"
