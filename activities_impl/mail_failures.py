"""Which e-mail failures are permanent: the message can never be delivered, so it is not retried.

Permanent: an address the mailer refuses before sending (not one plain address), a message that cannot be
composed (e.g. a control character in a header), and a 5xx answer from the server to the recipient or to the
message itself. Everything else is transient and retried with backoff: the server unreachable, timeouts, 4xx
answers, and 5xx answers to the sender or the login (a configuration fault of ours, which would otherwise fail
every message; the operator sees it in the logs and the retries).

Reasons are for the coordinator and the audit log: they never contain an e-mail address.
"""

from __future__ import annotations

import aiosmtplib

ADDRESS_PLACEHOLDER = "<adress>"
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


def permanent_reason(exc: BaseException, recipient: str | None) -> str | None:
    """Why `exc` (raised while sending to `recipient`) will never succeed; None when it is worth a retry."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        codes = [r.code for r in exc.recipients]
        if all(code >= 500 for code in codes):
            first = exc.recipients[0]
            return f"the mail server refused the recipient: {first.code} {without_addresses(first.message, recipient)}"
        return None
    if isinstance(exc, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)) and exc.code >= 500:
        what = "recipient" if isinstance(exc, aiosmtplib.SMTPRecipientRefused) else "message"
        return f"the mail server refused the {what}: {exc.code} {without_addresses(exc.message, recipient)}"
    return None
