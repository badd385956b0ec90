"""`runflow activity show` through a running `runflow web` (runflow/web_client.py): asked over HTTP with the API token
when one is set, the direct way (Temporal and the store) otherwise or whenever the web gives no full answer.

Here against a stand-in web (the standard library's HTTP server answering as the coordinators' API does); the same
answer both ways against a real stack is checked in tests/e2e/test_embedded_stack.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runflow import web_client
from runflow.entry import show_arguments
from runflow.web_client import activity_through_web
from tests.api.test_cli_imports import HEAVY, loaded_after
from tests.support.ports import free_port

TOKEN = "api-token-0123456789abcdef0123456789"
OVERVIEW: dict[str, Any] = {
    "id": "lasa-25",
    "title": "Läsa och skriva",
    "phase": "open",
    "confirmed": 3,
    "capacity": 30,
    "min_participants": 8,
    "waitlisted": 0,
    "withdrawn": 1,
    "deadline": "2027-09-01T10:00:00Z",
    "next_due": {"what": "reminder", "at": "2027-08-20T08:00:00Z"},
    "sessions": [
        {"no": 1, "start": "2027-09-10T08:00:00Z", "location": "digital", "attended": 0, "survey": "not_sent"}
    ],
    "decisions": [{"at": "2027-08-01T08:00:00Z", "kind": "open", "by": "engine", "reason": "registration opened"}],
    "surveys": [{"survey": "session-1", "invited": 0, "answered": 0, "reminded": 0}],
}
UNDELIVERABLE = [{"recipient": "x@nowhere.se", "purpose": "registration", "reason": "550", "queued_at": "2027-08-02"}]


class StandIn(BaseHTTPRequestHandler):
    """The two endpoints `activity show` asks, as the coordinators' API answers them; `status` to refuse."""

    status = 200
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/elsewhere"):  # where a redirect would lead
            self._send(200, OVERVIEW)
        elif type(self).status in (301, 302, 307, 308):
            self.send_response(type(self).status)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}" or type(self).status != 200:
            self._send(type(self).status if type(self).status != 200 else 401, {"detail": "no"})
        elif self.path == "/api/activities/lasa-25":
            self._send(200, OVERVIEW)
        elif self.path == "/api/activities/lasa-25/undeliverable":
            self._send(200, UNDELIVERABLE)
        else:
            self._send(404, {"detail": "no activity"})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    StandIn.status, StandIn.seen = 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def env_for(url: str, token: str = TOKEN) -> dict[str, str]:
    return {"RUNFLOW_API_TOKEN": token, "RUNFLOW_WEB_BASE_URL": url}


def test_the_web_s_answer_is_the_command_s_object(web):
    assert activity_through_web("lasa-25", env_for(web)) == {**OVERVIEW, "undeliverable": UNDELIVERABLE}
    assert StandIn.seen == [
        ("/api/activities/lasa-25", f"Bearer {TOKEN}"),
        ("/api/activities/lasa-25/undeliverable", f"Bearer {TOKEN}"),
    ]


def test_an_id_is_one_path_segment(web):
    assert activity_through_web("../staff?x=1", env_for(web)) is None
    assert StandIn.seen[0][0] == "/api/activities/..%2Fstaff%3Fx%3D1"


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_no_full_answer_means_the_direct_way(web, status):
    StandIn.status = status
    assert activity_through_web("lasa-25", env_for(web)) is None


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_with_the_token(web, status):
    StandIn.status = status
    assert activity_through_web("lasa-25", env_for(web)) is None
    assert [path for path, _ in StandIn.seen] == ["/api/activities/lasa-25"]  # never asked where it pointed


def test_no_token_no_web_no_request(web):
    assert activity_through_web("lasa-25", {"RUNFLOW_WEB_BASE_URL": web}) is None
    assert activity_through_web("lasa-25", env_for(web, token="")) is None
    assert StandIn.seen == []
    assert activity_through_web("lasa-25", env_for(f"http://127.0.0.1:{free_port()}")) is None  # nobody listens


@pytest.mark.parametrize(
    "url", ["http://runflow.example.se", "http://10.0.0.5:8000", "ftp://127.0.0.1", "file:///etc", "http://[::1"]
)
def test_the_token_never_goes_in_clear_over_a_network(url, monkeypatch):
    def no_request(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"asked {url}")

    monkeypatch.setattr(web_client, "_get_json", no_request)
    assert activity_through_web("lasa-25", env_for(url)) is None


@pytest.mark.parametrize("url", ["https://runflow.example.se", "http://localhost:8000", "http://[::1]:8000"])
def test_https_anywhere_and_http_to_this_machine(url, monkeypatch):
    asked: list[str] = []

    def answer(opener: Any, full_url: str, token: str, timeout: float) -> Any:
        asked.append(full_url)
        return OVERVIEW if full_url.endswith("lasa-25") else []

    monkeypatch.setattr(web_client, "_get_json", answer)
    assert activity_through_web("lasa-25", env_for(url)) == {**OVERVIEW, "undeliverable": []}
    assert asked == [f"{url}/api/activities/lasa-25", f"{url}/api/activities/lasa-25/undeliverable"]


def test_no_address_no_request(monkeypatch):
    """Not the settings' default (localhost:8000): whoever listens there is not told the token."""

    def no_request(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("asked a web nobody named")

    monkeypatch.setattr(web_client, "_get_json", no_request)
    assert activity_through_web("lasa-25", {"RUNFLOW_API_TOKEN": TOKEN}) is None


def test_a_bad_address_is_no_answer():
    assert activity_through_web("lasa-25", env_for("http://localhost:abc")) is None  # http.client's InvalidURL


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n",  # not HTTP
        b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"id": "lasa-25"',  # cut short
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nnot json",
        b'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"id": "lasa-25"}',  # not the overview
    ],
    ids=["not-http", "cut-short", "not-json", "other-fields"],
)
def test_a_reply_that_is_not_the_overview_is_no_answer(reply):
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer() -> None:
            with contextlib.suppress(OSError):
                connection, _ = server.accept()
                with connection:
                    connection.recv(4096)
                    connection.sendall(reply)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        assert activity_through_web("lasa-25", env_for(f"http://127.0.0.1:{server.getsockname()[1]}")) is None
        thread.join(5)


def test_a_web_that_does_not_answer_in_time_is_no_answer(monkeypatch):
    monkeypatch.setattr(web_client, "TIMEOUT_SECONDS", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as server:  # listens, never answers
        assert activity_through_web("lasa-25", env_for(f"http://127.0.0.1:{server.getsockname()[1]}")) is None


def run_console_script(args: list[str], monkeypatch, capsys) -> str:
    """`runflow ARGS` as the console script runs it (runflow.entry.main), its stdout."""
    from runflow import entry

    monkeypatch.setattr(entry.sys, "argv", ["runflow", *args])
    entry.main()
    return capsys.readouterr().out


def test_the_command_prints_the_web_s_answer_for_people_and_programs(web, monkeypatch, capsys):
    for name, value in env_for(web).items():
        monkeypatch.setenv(name, value)
    as_json = run_console_script(["activity", "show", "lasa-25", "--json"], monkeypatch, capsys)
    assert json.loads(as_json) == {**OVERVIEW, "undeliverable": UNDELIVERABLE}
    human = run_console_script(["activity", "show", "lasa-25"], monkeypatch, capsys)
    assert human.splitlines() == [
        "lasa-25: Läsa och skriva",
        "phase: open",
        "confirmed: 3/30 (min 8), waitlisted: 0, withdrawn: 1",
        "deadline: 2027-09-01T10:00:00Z",
        "next: reminder at 2027-08-20T08:00:00Z",
        "  session 1: 2027-09-10T08:00:00Z digital, attended 0, survey not_sent",
        "  2027-08-01T08:00:00Z open by engine: registration opened",
        "  survey session-1: 0/0 answered, 0 reminded",
        "undeliverable e-mails: 1",
        "  x@nowhere.se (registration): 550",
    ]


def test_the_console_script_asks_the_web_before_building_the_command_line(web, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RUNFLOW_", "TEMPORAL_"))},
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "RUNFLOW_DATA_DIR": str(tmp_path),
        **env_for(web),
    }
    code = """
        import sys
        sys.argv = ["runflow", "activity", "show", "lasa-25", "--json"]
        from runflow.entry import main
        main()
        """
    loaded = loaded_after(code, env)
    assert len(StandIn.seen) == 2, "the web was not asked"
    assert loaded & (HEAVY | {"typer", "click"}) == set()


def test_without_an_answer_from_the_web_the_console_script_asks_it_once_and_goes_direct(web, monkeypatch, capsys):
    from runflow import entry

    StandIn.status = 503
    for name, value in env_for(web).items():
        monkeypatch.setenv(name, value)
    direct: list[str] = []
    monkeypatch.setattr(entry.sys, "argv", ["runflow", "activity", "show", "lasa-25", "--json"])
    monkeypatch.setattr(
        "runflow.cli._activity_directly",
        lambda activity_id: direct.append(activity_id) or {**OVERVIEW, "undeliverable": []},
    )
    monkeypatch.setattr("os._exit", lambda code: (_ for _ in ()).throw(SystemExit(code)))
    with pytest.raises(SystemExit) as ended:
        entry.main()
    assert ended.value.code == 0
    assert direct == ["lasa-25"]
    assert len(StandIn.seen) == 1  # asked once (the overview refused), not again by the command
    assert json.loads(capsys.readouterr().out) == {**OVERVIEW, "undeliverable": []}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["activity", "show", "lasa-25"], ("lasa-25", False)),
        (["activity", "show", "lasa-25", "--json"], ("lasa-25", True)),
        (["activity", "show", "--json", "lasa-25"], ("lasa-25", True)),
        (["activity", "show"], None),
        (["activity", "show", "--help"], None),
        (["activity", "show", "lasa-25", "--help"], None),
        (["activity", "show", "--json", "--json"], None),
        (["activity", "show", "a", "b"], None),
        (["activity", "list", "--json"], None),
        (["--json", "activity", "show", "a"], None),
        (["activity", "show", "a", "--json", "x"], None),
    ],
)
def test_only_the_plain_forms_of_activity_show_go_to_the_web_first(args, expected):
    assert show_arguments(args) == expected
