"""The embedded SMTP sink: what SmtpMailer sends lands as one .eml file per message."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from activities_impl.mailer import SmtpMailer
from tests.support.ports import free_port
from worker.smtp_sink import start_sink


def mail(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "RUN <run@test>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Hej!\n\nMed vänliga hälsningar\nRUN")
    return message


@pytest.fixture
def sink(tmp_path):
    port = free_port()
    controller = start_sink(tmp_path / "mail", port)
    yield tmp_path / "mail", port
    controller.stop()


async def test_each_message_becomes_an_eml_file(sink):
    directory, port = sink
    mailer = SmtpMailer("127.0.0.1", port, timeout=10)
    await mailer.send(mail("anna@example.se", "Bekräftelse: du är anmäld till Läs- och skrivutveckling"))
    await mailer.send(mail("bo@example.se", "Reservlista: Läs- och skrivutveckling"))

    files = sorted(directory.glob("*.eml"))
    assert [f.name[:5] for f in files] == ["00001", "00002"]
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert [(m["To"], m["Subject"]) for m in parsed] == [
        ("anna@example.se", "Bekräftelse: du är anmäld till Läs- och skrivutveckling"),
        ("bo@example.se", "Reservlista: Läs- och skrivutveckling"),
    ]
    assert "Med vänliga hälsningar" in parsed[0].get_content()


async def test_a_mailbox_the_sink_refuses_is_marked_undeliverable_and_the_rest_is_delivered(tmp_path, store):
    """A real SMTP conversation: 550 at RCPT for one recipient is permanent; the outbox carries on."""
    from activities_impl.outbox import Envelope, Outbox

    port = free_port()
    controller = start_sink(tmp_path / "mail", port, refuse=["okand@skola.test"])
    try:
        outbox = Outbox(store, SmtpMailer("127.0.0.1", port, timeout=10), "RUN <run@test>")
        batch = [
            Envelope(key=f"k{i}", activity_id="a1", purpose="invitation", recipient=to, subject="Inbjudan", body="Hej!")
            for i, to in enumerate(["anna@skola.test", "okand@skola.test", "bo@skola.test"])
        ]
        assert await outbox.send(batch) == 2
    finally:
        controller.stop()
    delivered = [
        message_from_bytes(f.read_bytes(), policy=policy.default)["To"]
        for f in sorted((tmp_path / "mail").glob("*.eml"))
    ]
    assert delivered == ["anna@skola.test", "bo@skola.test"]
    [failed] = store.undeliverable("a1")
    assert failed.recipient == "okand@skola.test" and failed.error.startswith("recipient_refused: 550")
    assert "okand" not in failed.error
