"""Which e-mail failures are permanent: the message can never be delivered, so it is not retried.

Permanent: an address the mailer refuses before sending (not one plain address), a message that cannot be
composed or written out (e.g. a control character in a header), a 5xx answer to the recipient or to the message
itself, and 552 (too large) to the sender. Everything else is transient and retried with backoff: the server
unreachable, timeouts, and answers about our own side (the login, the sender, 5.7.x relay and policy answers),
which would otherwise fail every message; the operator sees those in the logs and the retries. A server that keeps
putting off one recipient (4xx, 5.7.x at RCPT) gets a bounded number of attempts (`deferred_reason`): after that
the message fails too, so one mailbox cannot hold up a registration or the lifecycle. A mailing carries on past
a 4xx to one recipient (`put_off`): only that message waits for the retry.

A reason is `<code>: <detail>`, the code one of `REASONS` (the organiser's e-mail says it in Swedish by code),
the detail the server's answer; it never contains an e-mail address.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

ADDRESS_PLACEHOLDER = "<adress>"
INVALID_ADDRESS, NOT_COMPOSABLE = "invalid_address", "not_composable"
RECIPIENT_REFUSED, MESSAGE_REFUSED = "recipient_refused", "message_refused"
RECIPIENT_DEFERRED = "recipient_deferred"
KNOWN_UNDELIVERABLE = "known_undeliverable"
ADDRESS_FAULTS = (INVALID_ADDRESS, RECIPIENT_REFUSED)  # about the address itself: no use trying it again
REASONS = {  # code -> what the organiser is told (Swedish)
    INVALID_ADDRESS: "adressen är inte en giltig e-postadress",
    NOT_COMPOSABLE: "meddelandet gick inte att skapa (otillåtet tecken i en rubrik)",
    RECIPIENT_REFUSED: "mottagarens e-postserver känner inte till adressen",
    MESSAGE_REFUSED: "mottagarens e-postserver tog inte emot meddelandet",
    RECIPIENT_DEFERRED: "mottagarens e-postserver sköt upp leveransen gång på gång, så vi har slutat försöka",
    KNOWN_UNDELIVERABLE: "adressen gick inte att leverera till tidigare, så inget nytt försök görs",
}


def reason(code: str, detail: str = "") -> str:
    return f"{code}: {detail}" if detail else code


def reason_in_swedish(text: str | None) -> str:
    """The organiser's words for a stored reason: the Swedish text of its code, then the server's answer."""
    code, _, detail = (text or "").partition(": ")
    swedish = REASONS.get(code, "okänt fel")
    return f"{swedish} ({detail})" if detail else swedish


MAX_REASON = 200


class UndeliverableMail(Exception):
    """This message can never be delivered; `reason` says why, without any address."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def without_addresses(text: str, recipient: str | None = None) -> str:
    """The server's words with every address left out: the recipient and any word holding an '@'."""
    words = []
    for word in text.split():
        if "@" in word or (recipient and recipient.lower() in word.lower()):
            words.append(ADDRESS_PLACEHOLDER)
        else:
            words.append(word)
    return " ".join(words)[:MAX_REASON]


def _writable(message: EmailMessage) -> bool:
    try:
        message.as_bytes()
    except Exception:  # noqa: BLE001 - whatever the email package raises for this message
        return False
    return True


def _refusals(exc: BaseException) -> list[aiosmtplib.SMTPResponseException]:
    """The server's answers to the recipient, when `exc` is about the recipient."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return list(exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return [exc]
    return []


def _policy(answer: aiosmtplib.SMTPResponseException) -> bool:
    """A 5.7.x answer (relay denied, policy): often about our relay rather than the mailbox, so not final."""
    first = answer.message.split(maxsplit=1)[0] if answer.message.split() else ""
    return first.startswith("5.7.")


def permanent_reason(exc: BaseException, recipient: str | None, message: EmailMessage | None = None) -> str | None:
    """Why `exc` (raised while sending `message` to `recipient`) will never succeed; None when a retry may help."""
    answers = _refusals(exc)
    if answers:
        first = answers[0]
        if all(a.code >= 500 and not _policy(a) for a in answers):
            return reason(RECIPIENT_REFUSED, f"{first.code} {without_addresses(first.message, recipient)}")
        return None
    if isinstance(exc, (ValueError, TypeError, LookupError)) and message is not None and not _writable(message):
        return reason(NOT_COMPOSABLE, type(exc).__name__)  # not a setting of ours: the message itself fails
    if isinstance(exc, aiosmtplib.SMTPDataError) and exc.code >= 500 and not _policy(exc):
        return reason(MESSAGE_REFUSED, f"{exc.code} {without_addresses(exc.message, recipient)}")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and exc.code == 552:  # this message is too large
        return reason(MESSAGE_REFUSED, f"{exc.code} {without_addresses(exc.message, recipient)}")
    return None


def put_off(exc: BaseException) -> bool:
    """The server put off this one mailbox for now (4xx at RCPT, not 421, which closes the connection): the
    connection is fine and other recipients may go on; the message is retried later, within its attempts."""
    answers = _refusals(exc)
    return bool(answers) and all(400 <= a.code < 500 and a.code != 421 for a in answers)


def deferred_reason(exc: BaseException, recipient: str | None) -> str | None:
    """When the server keeps putting off this one recipient (4xx, or a 5.7.x policy answer): the reason to give
    once the message has used its attempts; None for failures that are not about the recipient."""
    answers = _refusals(exc)
    if not answers:
        return None
    return reason(RECIPIENT_DEFERRED, f"{answers[0].code} {without_addresses(answers[0].message, recipient)}")
