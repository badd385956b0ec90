"""Staff: who may sign in to the back-office, with which role, and the tokens that stand for them.

Pure: the rules for roles, token lifetimes and how a token is kept (only its SHA-256 digest is stored, so a
copy of the database signs nobody in). Staff ids are opaque ("st_" and 16 hex digits): they are what the
workflow and the audit log see, never a name or an address.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from enum import StrEnum


class Role(StrEnum):
    COORDINATOR = "coordinator"  # everything
    VIEWER = "viewer"  # reads everything, changes nothing (e.g. the management group)


class TokenKind(StrEnum):
    SIGNIN = "signin"  # a one-time sign-in link
    SESSION = "session"  # a signed-in browser
    API = "api"  # a personal token for the coordinators' JSON API


SIGNIN_LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=10)  # a working day; then sign in again
STAFF_ID_PREFIX = "st_"
API_TOKEN_PREFIX = "rfp_"  # so a leaked token is recognisable (secret scanners, logs)
MAX_TOKEN_LENGTH = 200  # a presented token longer than this is refused before it is hashed
MAX_STAFF_NAME = 200
MAX_TOKEN_LABEL = 100

ROLE_LABELS = {Role.COORDINATOR: "Samordnare", Role.VIEWER: "Läsbehörighet"}


def token_digest(raw: str) -> str:
    """What the store keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def may_change(role: str) -> bool:
    """Whether a staff member of this role may change anything (start, decide, tick attendance, send, edit)."""
    return role == Role.COORDINATOR


def audit_by(staff_id: str) -> str:
    """How the audit log names a staff member: by opaque id."""
    return f"staff:{staff_id}"


def parse_role(text: str) -> Role:
    """A role from what was typed; ValueError naming the roles otherwise."""
    try:
        return Role(text.strip().lower()[:20])
    except ValueError:
        raise ValueError(f"unknown role {text[:20]!r}: choose {' or '.join(r.value for r in Role)}") from None


PERSONAL_FIELDS = ("name", "email", "school", "team_members")  # of a participant list row


def sees_people(role: str) -> bool:
    """Whether this role sees who registered by name (names, addresses, schools, team members): coordinators do;
    viewers (the management group) see the same list without them, as counts per organisation and role."""
    return role == Role.COORDINATOR


def without_people(row: dict[str, object]) -> dict[str, object]:
    """A participant list row with the person left out (for viewers)."""
    return {k: ([] if k == "team_members" else None) if k in PERSONAL_FIELDS else v for k, v in row.items()}
