"""E-mail addresses as people type them: parsed (email-validator, no DNS), never pattern-matched.

One mailbox, one form: surrounding space removed, the whole address in lower
case, the domain in its ASCII (IDNA) form so any SMTP server takes it. The
length is checked before parsing, so hostile input costs nothing.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 254  # RFC 5321: the longest address a mail server must accept


class InvalidEmail(ValueError):
    """Not one plain address; the message says why (in English, for logs and the CLI)."""


def parse_email(text: str) -> str:
    """The normalised address, or `InvalidEmail`.

    Refused: empty, longer than 254 characters, display names (`"A" <a@b.se>`), lists (`a,b@c.se`),
    control characters, empty labels (`a@skola..se`), quoted local parts, IP-address domains and
    special-use domains other than `.test` (the demo's and the tests' domain, delivered only to a sink).
    """
    if not isinstance(text, str):
        raise InvalidEmail("not an e-mail address")
    candidate = text.strip()
    if not candidate:
        raise InvalidEmail("no e-mail address given")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"an e-mail address has at most {MAX_EMAIL_LENGTH} characters")
    try:
        parsed = validate_email(
            candidate,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_empty_local=False,
            test_environment=True,
        )
    except EmailNotValidError as exc:
        raise InvalidEmail(f"not a valid e-mail address: {exc}") from None
    if parsed.ascii_email is None:  # only with SMTPUTF8, which is not allowed above
        raise InvalidEmail("not a valid e-mail address: it needs SMTPUTF8")
    return parsed.ascii_email.lower()


def is_email(text: str) -> bool:
    try:
        parse_email(text)
    except InvalidEmail:
        return False
    return True


# What anonymisation puts where an organiser's address was: it still loads as a plan, and is never mailed (the
# `.invalid` domain is refused by `parse_email`, so the outbox marks any message to it undeliverable).
ANONYMISED_EMAIL = "anonymiserad@runflow.invalid"


def parse_organiser_email(text: str) -> str:
    """An organiser's address as `parse_email` takes it, or the anonymised placeholder as it is."""
    return ANONYMISED_EMAIL if text == ANONYMISED_EMAIL else parse_email(text)
