"""Which e-mail failures are permanent: the message can never be delivered, so it is not retried.

Permanent: an address the mailer refuses before sending (not one plain address), a message that cannot be
composed (e.g. a control character in a header), and a 5xx answer from the server to the recipient or to the
message itself. Everything else is transient and retried with backoff: the server unreachable, timeouts, 4xx
answers, and 5xx answers to the sender or the login (a configuration fault of ours, which would otherwise fail
every message; the operator sees it in the logs and the retries).

A reason is `<code>: <detail>`, the code one of `REASONS` (the organiser's e-mail says it in Swedish by code),
the detail the server's answer; it never contains an e-mail address.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

ADDRESS_PLACEHOLDER = "<adress>"
INVALID_ADDRESS, NOT_COMPOSABLE = "invalid_address", "not_composable"
RECIPIENT_REFUSED, MESSAGE_REFUSED = "recipient_refused", "message_refused"
REASONS = {  # code -> what the organiser is told (Swedish)
    INVALID_ADDRESS: "adressen är inte en giltig e-postadress",
    NOT_COMPOSABLE: "meddelandet gick inte att skapa (otillåtet tecken i en rubrik)",
    RECIPIENT_REFUSED: "mottagarens e-postserver känner inte till adressen",
    MESSAGE_REFUSED: "mottagarens e-postserver tog inte emot meddelandet",
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


def permanent_reason(exc: BaseException, recipient: str | None, message: EmailMessage | None = None) -> str | None:
    """Why `exc` (raised while sending `message` to `recipient`) will never succeed; None when a retry may help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        codes = [r.code for r in exc.recipients]
        if all(code >= 500 for code in codes):
            first = exc.recipients[0]
            return reason(RECIPIENT_REFUSED, f"{first.code} {without_addresses(first.message, recipient)}")
        return None
    if isinstance(exc, (ValueError, TypeError, LookupError)) and message is not None and not _writable(message):
        return reason(NOT_COMPOSABLE, type(exc).__name__)  # not a setting of ours: the message itself fails
    if isinstance(exc, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)) and exc.code >= 500:
        code = RECIPIENT_REFUSED if isinstance(exc, aiosmtplib.SMTPRecipientRefused) else MESSAGE_REFUSED
        return reason(code, f"{exc.code} {without_addresses(exc.message, recipient)}")
    return None
