"""The outbox: each business key is mailed at most once, across retries, failures and competing workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiosmtplib
import pytest

from activities_impl.outbox import Attachment, Envelope, MailDeliveryError, Outbox, message_id
from activities_impl.store import ClaimHeld

ICS = b"BEGIN:VCALENDAR\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"


@pytest.fixture
def outbox(store, mailer, settings) -> Outbox:
    return Outbox(store, mailer, settings.smtp_from)


def envelope(key: str, recipient: str = "anna@example.se", **changes) -> Envelope:
    return Envelope(
        key=key,
        activity_id="a1",
        purpose="registration",
        recipient=recipient,
        subject=f"Ämne {key}",
        body=f"Hej! ({key})",
        **changes,
    )


def status(store, key: str):
    return next(m for m in store.outbox() if m.key == key)


async def test_send_delivers_each_key_once(outbox, mailer, store):
    batch = [envelope("k1", "anna@example.se"), envelope("k2", "bo@example.se"), envelope("k1", "anna@example.se")]
    assert await outbox.send(batch) == 2
    assert await outbox.send(batch) == 0
    assert [(m["To"], m["Subject"]) for m in mailer.sent] == [
        ("anna@example.se", "Ämne k1"),
        ("bo@example.se", "Ämne k2"),
    ]
    assert mailer.sent[0]["From"] == "RUN <run@test>"
    assert mailer.sent[0].get_content().strip() == "Hej! (k1)"
    assert {(m.key, m.status, m.attempts) for m in store.outbox()} == {("k1", "sent", 1), ("k2", "sent", 1)}


async def test_failed_send_is_released_and_retried_once(outbox, mailer, store):
    batch = [envelope("k1"), envelope("k2")]
    mailer.fail_next = 1
    with pytest.raises(MailDeliveryError) as failed:
        await outbox.send(batch)
    assert "ConnectionError" in str(failed.value) and "@" not in str(failed.value)  # no address in the error
    assert mailer.sent == []
    assert (status(store, "k1").status, status(store, "k1").attempts) == ("pending", 1)
    assert status(store, "k2").status == "pending"

    assert await outbox.send(batch) == 2  # the activity's retry
    assert await outbox.send(batch) == 0
    assert sorted(m["Subject"] for m in mailer.sent) == ["Ämne k1", "Ämne k2"]
    row = status(store, "k1")
    assert (row.status, row.attempts) == ("sent", 2)
    assert row.sent_at is not None and row.claimed_at is not None


async def test_fresh_claim_of_another_worker_makes_the_attempt_retry_not_skip(outbox, mailer, store):
    store.enqueue([envelope("k1").row()])
    assert store.claim("k1", datetime.now(UTC)) is not None  # another worker is sending it (or died)
    with pytest.raises(ClaimHeld):  # the activity fails and is retried: completing would lose the message
        await outbox.send([envelope("k1"), envelope("k2")])
    assert [m["Subject"] for m in mailer.sent] == ["Ämne k2"]  # the others still go out
    assert status(store, "k1").status == "sending"


async def test_stale_claim_is_taken_over(outbox, mailer, store):
    store.enqueue([envelope("k1").row()])
    store.claim("k1", datetime.now(UTC) - timedelta(minutes=10))  # a worker killed mid-send
    assert await outbox.send([envelope("k1")]) == 1
    assert len(mailer.sent) == 1
    row = status(store, "k1")
    assert (row.status, row.attempts) == ("sent", 2)


async def test_message_id_is_stable_per_key(outbox, mailer):
    await outbox.send([envelope("a1|registration|r1"), envelope("a1|registration|r2")])
    first, second = mailer.sent
    assert first["Message-ID"] == message_id("a1|registration|r1") == message_id("a1|registration|r1")
    assert first["Message-ID"] != second["Message-ID"]
    assert first["X-Runflow-Purpose"] == "registration"


async def test_attachments_survive_the_outbox(outbox, mailer):
    attachments = [
        Attachment("a1.ics", "text/calendar; method=PUBLISH", ICS),
        Attachment("a1-deltagare.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\xff"),
    ]
    await outbox.send([envelope("k1", attachments=attachments)])
    [message] = mailer.sent
    ics, png = message.iter_attachments()
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH"
    assert ics.get_filename() == "a1.ics"
    assert ics.get_payload(decode=True) == ICS
    assert (png.get_content_type(), png.get_filename()) == ("image/png", "a1-deltagare.png")
    assert png.get_payload(decode=True) == b"\x89PNG\r\n\x1a\n\x00\xff"


# -- undeliverable: permanent failures are marked, not retried ---------------------------------------------
async def test_a_refused_recipient_is_marked_failed_and_the_others_go_out(outbox, mailer, store):
    mailer.refuse = {"fel@skola.test"}
    batch = [envelope("k1", "anna@example.se"), envelope("k2", "fel@skola.test"), envelope("k3", "bo@example.se")]
    assert await outbox.send(batch) == 2  # no exception: nothing to retry
    assert sorted(m["To"] for m in mailer.sent) == ["anna@example.se", "bo@example.se"]
    failed = status(store, "k2")
    assert failed.status == "failed" and failed.error.startswith("recipient_refused: 550")
    assert "@" not in failed.error  # the server's answer quoted the address; the reason does not
    assert [m.key for m in outbox.undeliverable(batch)] == ["k2"]
    assert await outbox.send(batch) == 0  # a retry of the activity does not try it again
    assert status(store, "k2").attempts == 1
    [entry] = [e for e in store.audit_log("a1") if e.kind == "undeliverable"]
    assert entry.by == "engine" and "registration e-mail not delivered" in entry.reason and "@" not in entry.reason


@pytest.mark.parametrize(
    "recipient,subject",
    [
        ("name@skola..se", "Ämne"),  # an empty label: the mailer would refuse it on every attempt
        ("a,b@evil.example", "Ämne"),  # a list
        ('"A" <a@skola.se>', "Ämne"),  # a display name
        ("anna@example.se", "Rad ett\rRad två"),  # a carriage return in a header
    ],
    ids=["empty-label", "list", "display-name", "cr-in-subject"],
)
async def test_a_message_that_can_never_be_sent_is_failed_at_once(outbox, mailer, store, recipient, subject):
    batch = [
        envelope(
            "bad",
            recipient,
        ),
        envelope("good", "bo@example.se"),
    ]
    batch[0].subject = subject
    assert await outbox.send(batch) == 1
    assert [m["To"] for m in mailer.sent] == ["bo@example.se"]
    row = status(store, "bad")
    assert row.status == "failed" and row.attempts == 1
    assert row.error in ("invalid_address", "not_composable: ValueError")


async def test_a_server_refusal_with_4xx_is_retried_then_given_up(outbox, mailer, store):
    class Busy(type(mailer)):
        async def send(self, message):
            raise aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(450, "4.2.1 mailbox busy, try later", str(message["To"]))]
            )

    busy = Outbox(store, Busy(), "RUN <run@test>", recipient_attempts=3)
    for _ in range(2):
        with pytest.raises(MailDeliveryError):
            await busy.send([envelope("k1")])
        assert status(store, "k1").status == "pending"  # transient: released for the retry
    assert await busy.send([envelope("k1")]) == 0  # the third attempt was the last: one mailbox holds up nothing
    row = status(store, "k1")
    assert (row.status, row.attempts) == ("failed", 3) and row.error.startswith("recipient_deferred: 450")


@pytest.mark.parametrize(
    "answer",
    [
        aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(554, "5.7.1 Relay access denied", "x")]),
        aiosmtplib.SMTPSenderRefused(550, "5.7.1 sender not allowed", "run@test"),
        aiosmtplib.SMTPAuthenticationError(535, "5.7.8 authentication failed"),
    ],
    ids=["relay-denied", "sender-refused", "login"],
)
async def test_answers_about_our_own_relay_are_retried_not_failed(store, mailer, answer):
    class Relay(type(mailer)):
        async def send(self, message):
            raise answer

    with pytest.raises(MailDeliveryError):
        await Outbox(store, Relay(), "RUN <run@test>").send([envelope("k1")])
    assert status(store, "k1").status == "pending"


async def test_a_message_too_large_for_the_server_fails(store, mailer):
    class Small(type(mailer)):
        async def send(self, message):
            raise aiosmtplib.SMTPSenderRefused(552, "5.3.4 Message size exceeds fixed limit", "run@test")

    assert await Outbox(store, Small(), "RUN <run@test>").send([envelope("k1")]) == 0
    assert status(store, "k1").error.startswith("message_refused: 552")


async def test_a_message_the_smtp_client_cannot_write_out_is_failed_not_retried(outbox, mailer, store):
    class Unwritable(type(mailer)):
        async def send(self, message):
            message.as_bytes = lambda *a, **k: (_ for _ in ()).throw(UnicodeEncodeError("ascii", "å", 0, 1, "no"))
            message.as_bytes()

    unwritable = Outbox(store, Unwritable(), "RUN <run@test>")
    assert await unwritable.send([envelope("k1")]) == 0
    assert (status(store, "k1").status, status(store, "k1").error) == ("failed", "not_composable: UnicodeEncodeError")


async def test_a_value_error_of_the_smtp_settings_is_retried_not_failed(outbox, mailer, store):
    class Misconfigured(type(mailer)):
        async def send(self, message):
            raise ValueError("use_tls and start_tls are mutually exclusive")  # every message would fail alike

    with pytest.raises(MailDeliveryError):
        await Outbox(store, Misconfigured(), "RUN <run@test>").send([envelope("k1")])
    assert status(store, "k1").status == "pending"


# -- batches: one claim and one mailer session per batch, each message marked as it goes ----------------------------
async def test_a_mailing_is_claimed_and_sent_in_batches(store, mailer):
    claims = []
    claim_batch = store.claim_batch

    def counting(keys, *args, **kwargs):
        claim = claim_batch(keys, *args, **kwargs)
        claims.append(len(claim.rows))
        return claim

    store.claim_batch = counting
    batched = Outbox(store, mailer, "RUN <run@test>", batch_size=3)
    batch = [envelope(f"k{i}", f"p{i}@skola.test") for i in range(7)]
    assert await batched.send(batch) == 7
    assert claims == [3, 3, 1] and mailer.sessions == 3  # one transaction and one session per batch
    assert [m["Subject"] for m in mailer.sent] == [f"Ämne k{i}" for i in range(7)]  # in the mailing's order
    assert {(m.status, m.attempts) for m in store.outbox()} == {("sent", 1)}
    assert await batched.send(batch) == 0  # all sent: nothing claimed, no session opened
    assert claims == [3, 3, 1, 0, 0, 0] and mailer.sessions == 3


async def test_a_connection_failure_stops_the_mailing_and_gives_back_what_was_not_tried(store, mailer):
    class Breaks(type(mailer)):
        async def send(self, message):
            if message["Subject"] == "Ämne k2":
                raise ConnectionResetError("connection reset by peer (simulated)")
            await super().send(message)

    batched = Outbox(store, Breaks(), "RUN <run@test>", batch_size=4)
    batch = [envelope(f"k{i}", f"p{i}@skola.test") for i in range(6)]
    with pytest.raises(MailDeliveryError) as failed:
        await batched.send(batch)
    assert "ConnectionResetError" in str(failed.value) and "@" not in str(failed.value)
    rows = {m.key: (m.status, m.attempts, m.claimed_at is None) for m in store.outbox()}
    assert rows == {
        "k0": ("sent", 1, False),
        "k1": ("sent", 1, False),
        "k2": ("pending", 1, True),  # tried: the attempt counts
        "k3": ("pending", 0, True),  # claimed with k2, never tried: the attempt is given back
        "k4": ("pending", 0, True),  # the next batch: never claimed
        "k5": ("pending", 0, True),
    }


async def test_a_4xx_to_one_mailbox_holds_back_that_message_only(store, mailer):
    class Busy(type(mailer)):
        async def send(self, message):
            if message["To"] == "upptagen@skola.test":
                raise aiosmtplib.SMTPRecipientsRefused(
                    [aiosmtplib.SMTPRecipientRefused(450, "4.2.1 mailbox busy, try later", str(message["To"]))]
                )
            await super().send(message)

    busy = Busy()
    batched = Outbox(store, busy, "RUN <run@test>", batch_size=2, recipient_attempts=2)
    batch = [envelope("k0", "anna@skola.test"), envelope("k1", "upptagen@skola.test"), envelope("k2", "bo@skola.test")]
    with pytest.raises(MailDeliveryError) as failed:  # the activity is retried for the one put off ...
        await batched.send(batch)
    assert "SMTPRecipientsRefused 450" in str(failed.value) and "@" not in str(failed.value)
    assert sorted(m["To"] for m in busy.sent) == ["anna@skola.test", "bo@skola.test"]  # ... the others went out
    assert (status(store, "k1").status, status(store, "k1").attempts) == ("pending", 1)
    assert await batched.send(batch) == 0  # its second attempt was its last
    assert status(store, "k1").error.startswith("recipient_deferred: 450")
    assert len(busy.sent) == 2


async def test_cancelled_mid_batch_the_message_in_flight_keeps_its_claim_the_rest_is_given_back(store, mailer):
    import asyncio

    started = asyncio.Event()

    class Slow(type(mailer)):
        async def send(self, message):
            if message["Subject"] == "Ämne k1":
                started.set()
                await asyncio.sleep(10)
            await super().send(message)

    batched = Outbox(store, Slow(), "RUN <run@test>", batch_size=5)
    task = asyncio.create_task(batched.send([envelope(f"k{i}", f"p{i}@skola.test") for i in range(4)]))
    await started.wait()
    task.cancel()  # a worker shutting down, or the activity cancelled
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = {m.key: (m.status, m.attempts) for m in store.outbox()}
    # k1 may have reached the server: it waits for its lease, as after a crash; k2 and k3 were never tried
    assert rows == {"k0": ("sent", 1), "k1": ("sending", 1), "k2": ("pending", 0), "k3": ("pending", 0)}


# -- leases: a batch keeps its claims while it sends; a claim it lost is not its to send ---------------------------
async def test_a_batch_longer_than_the_lease_keeps_its_claims(store, mailer):
    import asyncio

    class Slow(type(mailer)):
        async def send(self, message):
            await asyncio.sleep(0.25)
            await super().send(message)

    slow = Slow()
    lease = 1.6  # renewed every 0.8 s: room for a busy machine to be late with a renewal
    first = Outbox(store, slow, "RUN <run@test>", lease_seconds=lease, batch_size=20)
    second = Outbox(store, slow, "RUN <run@test>", lease_seconds=lease, batch_size=20)
    batch = [envelope(f"k{i}", f"p{i}@skola.test") for i in range(16)]  # 4 s or more: over twice the lease
    sending = asyncio.create_task(first.send(batch))
    await asyncio.sleep(lease + 0.4)  # past the first claim's lease, while the batch is still going out
    assert not sending.done()
    with pytest.raises(ClaimHeld):  # renewed: not stale, so not taken over
        await second.send(batch)
    assert await sending == 16
    assert sorted(m["Subject"] for m in slow.sent) == sorted(f"Ämne k{i}" for i in range(16))  # each once


async def test_a_claim_taken_over_after_the_lease_is_left_to_the_attempt_that_took_it(store, mailer):
    from datetime import UTC, datetime, timedelta

    lease = 0.2

    class Stalls(type(mailer)):
        async def send(self, message):
            if message["Subject"] == "Ämne k0":
                # this attempt stalls past its lease; another attempt takes k3 over meanwhile
                taken = store.claim_batch(["k3"], datetime.now(UTC) + timedelta(seconds=2 * lease), lease)
                assert [r.key for r in taken.rows] == ["k3"]
                import asyncio

                await asyncio.sleep(lease)
            await super().send(message)

    stalls = Stalls()
    batched = Outbox(store, stalls, "RUN <run@test>", lease_seconds=lease, batch_size=5)
    with pytest.raises(ClaimHeld):  # the others went out; the retry checks on k3 later
        await batched.send([envelope(f"k{i}", f"p{i}@skola.test") for i in range(5)])
    assert sorted(m["Subject"] for m in stalls.sent) == ["Ämne k0", "Ämne k1", "Ämne k2", "Ämne k4"]
    assert (status(store, "k3").status, status(store, "k3").attempts) == ("sending", 2)


async def test_claim_batch_takes_pending_and_stale_claims_and_reports_fresh_ones(store):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    store.enqueue([envelope(f"k{i}").row() for i in range(5)])
    store.claim("k1", now - timedelta(seconds=5))  # fresh for a lease of 60 s
    store.claim("k2", now - timedelta(minutes=5))  # stale
    store.mark_sent("k3", now)
    claim = store.claim_batch(["k4", "k0", "k1", "k2", "k3", "nope"], now, 60)
    assert [r.key for r in claim.rows] == ["k4", "k0", "k2"]  # in the order asked for
    assert [(r.status, r.attempts, r.claimed_at) for r in claim.rows] == [
        ("sending", 1, now),
        ("sending", 1, now),
        ("sending", 2, now),
    ]
    assert claim.held == ["k1"]
    assert store.claim_batch(["k0", "k4"], now + timedelta(seconds=1), 60).held == ["k0", "k4"]
    assert store.renew(["k0", "k1"], now, now + timedelta(seconds=1)) == ["k0"]  # k1's claim is not this one's
    store.release_claims(["k0", "k2"], now, tried=False)  # k0's token changed with the renewal: still held
    assert [(status(store, k).status, status(store, k).attempts) for k in ("k0", "k2")] == [
        ("sending", 1),
        ("pending", 1),
    ]
