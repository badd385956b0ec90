"""The outbox against a real SMTP server (aiosmtpd, the embedded sink's handler): one connection per batch, a
refusal in the middle of a batch, dropped connections, and a worker killed mid-batch."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from activities_impl.mailer import SmtpMailer
from activities_impl.outbox import Envelope, MailDeliveryError, Outbox, message_id
from activities_impl.store import ClaimHeld
from tests.support.ports import HOST, free_port
from worker.smtp_sink import EmlWriter

ROOT = Path(__file__).resolve().parents[2]


class Sink(EmlWriter):
    """The embedded sink's handler, noting each connection (by the client's address) and what it accepted.

    `per_connection`: after that many messages a connection is closed at the next MAIL (421), as servers with a
    limit per connection do. `drop_in_data`: the first DATA to these mailboxes loses the connection before the
    server answers (nothing accepted). `put_off`: 450 at RCPT. `kill_at`: (pid, n): the n-th message is accepted
    (written) and then process pid is killed before it hears the answer."""

    def __init__(self, directory: Path, refuse=(), put_off=(), per_connection=None, drop_in_data=(), kill_at=None):
        super().__init__(directory, refuse)
        self.put_off = set(put_off)
        self.per_connection, self.drop_in_data, self.kill_at = per_connection, set(drop_in_data), kill_at
        self.connections: list[tuple] = []  # client addresses, in the order they sent MAIL first
        self.accepted: list[tuple[tuple, str, str]] = []  # (connection, recipient, Message-ID)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 - aiosmtpd's name
        if session.peer not in self.connections:
            self.connections.append(session.peer)
        carried = sum(1 for peer, _, _ in self.accepted if peer == session.peer)
        if self.per_connection is not None and carried >= self.per_connection:
            server.transport.close()
            return "421 4.7.0 Too many messages on this connection, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if address in self.put_off:
            return "450 4.2.1 Mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        [recipient] = envelope.rcpt_tos
        if recipient in self.drop_in_data:
            self.drop_in_data.discard(recipient)
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        answer = await super().handle_DATA(server, session, envelope)
        headers = BytesParser(policy=default).parsebytes(envelope.original_content, headersonly=True)
        self.accepted.append((session.peer, recipient, str(headers["Message-ID"])))
        if self.kill_at is not None and len(self.accepted) == self.kill_at[1]:
            os.kill(self.kill_at[0], signal.SIGKILL)  # accepted, and the sender dies before it hears so
        return answer

    def per_connection_counts(self) -> list[int]:
        counts = Counter(peer for peer, _, _ in self.accepted)
        return [counts[peer] for peer in self.connections if counts[peer]]


@pytest.fixture
def sink(tmp_path):
    started: list[Controller] = []

    def start(**options) -> tuple[Sink, int]:
        port = free_port()
        handler = Sink(tmp_path / "mail", **options)
        controller = Controller(handler, hostname=HOST, port=port)
        controller.start()
        started.append(controller)
        return handler, port

    yield start
    for controller in started:
        controller.stop()


def envelopes(n: int, **recipients: str) -> list[Envelope]:
    """n e-mails to p0@…, p1@…, except those named: envelopes(5, p2="x@y") sends the third to x@y."""
    return [
        Envelope(
            key=f"a1|survey|p{i}",
            activity_id="a1",
            purpose="survey",
            recipient=recipients.get(f"p{i}", f"p{i}@skola.test"),
            subject=f"Utvärdering {i}",
            body=f"Hej! ({i})",
        )
        for i in range(n)
    ]


async def test_each_batch_goes_over_one_connection(store, sink):
    server, port = sink()
    outbox = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", batch_size=4)
    mailing = envelopes(10)
    assert await outbox.send(mailing) == 10
    assert server.per_connection_counts() == [4, 4, 2]  # three connections: 10 e-mails in batches of 4
    assert [r for _, r, _ in server.accepted] == [e.recipient for e in mailing]  # each once, in order
    assert [m for _, _, m in server.accepted] == [message_id(e.key) for e in mailing]
    assert {(m.status, m.attempts) for m in store.outbox()} == {("sent", 1)}
    assert await outbox.send(mailing) == 0 and len(server.connections) == 3  # nothing to send: no connection


async def test_a_550_in_the_middle_of_a_batch_fails_that_message_and_the_batch_goes_on(store, sink):
    server, port = sink(refuse=["okand@skola.test"])
    outbox = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", batch_size=10)
    mailing = envelopes(5, p2="okand@skola.test")
    assert await outbox.send(mailing) == 4  # no exception: nothing to retry
    assert server.per_connection_counts() == [4]  # the same connection carried on after the refusal
    assert [r for _, r, _ in server.accepted] == ["p0@skola.test", "p1@skola.test", "p3@skola.test", "p4@skola.test"]
    [failed] = store.undeliverable("a1")
    assert failed.key == "a1|survey|p2" and failed.error.startswith("recipient_refused: 550 5.1.1")
    assert "@" not in failed.error and failed.attempts == 1


async def test_a_connection_the_server_closes_is_opened_again(store, sink):
    server, port = sink(per_connection=3)  # the server takes three messages per connection
    outbox = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", batch_size=8)
    assert await outbox.send(envelopes(8)) == 8
    assert server.per_connection_counts() == [3, 3, 2]
    assert Counter(r for _, r, _ in server.accepted) == {f"p{i}@skola.test": 1 for i in range(8)}


async def test_a_message_whose_connection_drops_is_sent_again_once_over_a_new_one(store, sink):
    server, port = sink(drop_in_data=["p1@skola.test"])
    outbox = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", batch_size=5)
    assert await outbox.send(envelopes(3)) == 3
    assert server.per_connection_counts() == [1, 2]
    assert [r for _, r, _ in server.accepted] == ["p0@skola.test", "p1@skola.test", "p2@skola.test"]
    assert {(m.status, m.attempts) for m in store.outbox()} == {("sent", 1)}


async def test_a_connection_that_drops_twice_is_left_to_the_retry(store, sink):
    server, port = sink(per_connection=0)  # every connection is closed at its first MAIL
    outbox = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", batch_size=5)
    with pytest.raises(MailDeliveryError) as failed:
        await outbox.send(envelopes(3))
    assert "SMTPServerDisconnected" in str(failed.value) or "421" in str(failed.value)
    assert len(server.connections) == 2 and server.accepted == []  # one reconnection, not more
    assert {m.key: (m.status, m.attempts) for m in store.outbox()} == {
        "a1|survey|p0": ("pending", 1),
        "a1|survey|p1": ("pending", 0),
        "a1|survey|p2": ("pending", 0),
    }


async def test_a_4xx_in_the_middle_of_a_batch_holds_back_that_message_only(store, sink):
    server, port = sink(put_off=["upptagen@skola.test"])
    outbox = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", batch_size=10)
    mailing = envelopes(4, p1="upptagen@skola.test")
    with pytest.raises(MailDeliveryError) as failed:
        await outbox.send(mailing)
    assert "450" in str(failed.value) and "@" not in str(failed.value)
    assert server.per_connection_counts() == [3]
    assert [m.key for m in store.outbox() if m.status == "pending"] == ["a1|survey|p1"]
    server.put_off.clear()  # the mailbox takes mail again
    assert await outbox.send(mailing) == 1
    assert [r for _, r, _ in server.accepted][-1] == "upptagen@skola.test"


CRASHING_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from activities_impl.mailer import SmtpMailer
    from activities_impl.outbox import Envelope, Outbox
    from activities_impl.store import Store

    url, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mailing = [
        Envelope(key=f"a1|survey|p{i}", activity_id="a1", purpose="survey", recipient=f"p{i}@skola.test",
                 subject=f"Utvärdering {i}", body=f"Hej! ({i})")
        for i in range(n)
    ]
    outbox = Outbox(Store(url), SmtpMailer("127.0.0.1", port, timeout=10), "RUN <run@test>", batch_size=5)
    print("started", flush=True)
    asyncio.run(outbox.send(mailing))
    """
)


async def test_a_worker_killed_mid_batch_leaves_what_it_marked_and_the_rest_goes_out_after_the_lease(store, sink):
    """kill -9 right after the server took the 4th e-mail of 12 (batches of 5): 1-3 are marked and never go out
    again; the 4th was taken but not marked, so it goes out once more (the outbox's one window), with the same
    Message-ID; 5 (claimed with it) waits for the lease; 6-12 (not claimed) go out at once."""
    server, port = sink()
    worker = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WORKER, store.url, str(port), "12"], cwd=ROOT, stdout=subprocess.PIPE
    )
    server.kill_at = (worker.pid, 4)
    assert await asyncio.to_thread(worker.wait, 60) == -signal.SIGKILL
    rows = {m.key: m.status for m in store.outbox()}
    assert [rows[f"a1|survey|p{i}"] for i in range(12)] == ["sent"] * 3 + ["sending"] * 2 + ["pending"] * 7

    lease = 1.0
    retry = Outbox(store, SmtpMailer(HOST, port, timeout=10), "RUN <run@test>", lease_seconds=lease, batch_size=5)
    mailing = envelopes(12)
    with pytest.raises(ClaimHeld):  # the activity's retry, before the lease: the claimed ones wait
        await retry.send(mailing)
    assert sorted(r for _, r, _ in server.accepted[4:]) == sorted(f"p{i}@skola.test" for i in range(5, 12))
    await asyncio.sleep(lease)
    assert await retry.send(mailing) == 2  # the next retry takes the two over
    sent = Counter(r for _, r, _ in server.accepted)
    assert sent == {f"p{i}@skola.test": 2 if i == 3 else 1 for i in range(12)}
    twice = [m for _, r, m in server.accepted if r == "p3@skola.test"]
    assert twice == [message_id("a1|survey|p3")] * 2  # recognisable as the same e-mail
    assert {m.key: (m.status, m.attempts) for m in store.outbox()} == {
        f"a1|survey|p{i}": ("sent", 2 if i in (3, 4) else 1) for i in range(12)
    }
