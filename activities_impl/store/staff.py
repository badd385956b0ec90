"""Staff members and their tokens: one-time sign-in links, browser sessions, personal API tokens.

A token is given to its holder once, as text; the store keeps its SHA-256 only (`domain.staff.token_digest`).
Redeeming a sign-in link is one conditional UPDATE, so two clicks on the same link sign in once.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from activities_impl.store.engine import StoreBase, StoreError
from domain.staff import API_TOKEN_PREFIX, MAX_TOKEN_LENGTH, STAFF_ID_PREFIX, Role, TokenKind, token_digest
from domain.tables import StaffMember, StaffToken


class StaffDirectory(StoreBase):
    # -- members ---------------------------------------------------------
    def add_staff(self, email: str, role: Role, name: str = "") -> tuple[StaffMember, bool]:
        """The member with this (already normalised) address, created or given this role and made active again;
        True when created."""
        with self.session() as s:
            member = s.exec(select(StaffMember).where(StaffMember.email == email)).first()
            created = member is None
            if member is None:
                member = StaffMember(id=STAFF_ID_PREFIX + secrets.token_hex(8), email=email, name=name, role=role)
            else:
                member.role, member.active = role, True
                member.name = name or member.name
            s.add(member)
            s.flush()
            s.refresh(member)
            s.expunge(member)
            return member, created

    def staff_member(self, staff_id: str) -> StaffMember | None:
        with self.session() as s:
            return s.get(StaffMember, staff_id)

    def staff_by_email(self, email: str) -> StaffMember | None:
        with self.session() as s:
            return s.exec(select(StaffMember).where(StaffMember.email == email)).first()

    def staff_members(self) -> list[StaffMember]:
        with self.session() as s:
            return list(s.exec(select(StaffMember).order_by(col(StaffMember.email))))

    def set_staff_active(self, staff_id: str, active: bool, now: datetime) -> None:
        """Deactivating also ends every session and revokes every token of the member."""
        with self.session() as s:
            member = s.get(StaffMember, staff_id)
            if member is None:
                raise StoreError(f"no staff member {staff_id!r}", "unknown_staff")
            member.active = active
            s.add(member)
            if not active:
                s.execute(
                    update(StaffToken)
                    .where(col(StaffToken.staff_id) == staff_id, col(StaffToken.revoked_at).is_(None))
                    .values(revoked_at=now)
                )

    def link_oidc_subject(self, email: str, subject: str) -> StaffMember | None:
        """The active member signing in with OpenID Connect: found by subject, else by a verified address (then
        the subject is remembered, so a later change of address at the provider still finds the member)."""
        with self.session() as s:
            member = s.exec(select(StaffMember).where(StaffMember.oidc_subject == subject)).first()
            if member is None and email:
                member = s.exec(select(StaffMember).where(StaffMember.email == email)).first()
                if member is not None and member.oidc_subject is None:
                    member.oidc_subject = subject
                    s.add(member)
                    s.flush()
                elif member is not None and member.oidc_subject != subject:
                    return None  # the address belongs to somebody else's account at the provider
            if member is None or not member.active:
                return None
            s.refresh(member)
            s.expunge(member)
            return member

    # -- tokens ----------------------------------------------------------
    def issue_token(
        self, staff_id: str, kind: TokenKind, now: datetime, expires_at: datetime | None, label: str | None = None
    ) -> str:
        """A new token for the member, as text (given once; the store keeps its digest)."""
        raw = (API_TOKEN_PREFIX if kind is TokenKind.API else "") + secrets.token_urlsafe(32)
        with self.session() as s:
            if s.get(StaffMember, staff_id) is None:
                raise StoreError(f"no staff member {staff_id!r}", "unknown_staff")
            s.add(
                StaffToken(
                    digest=token_digest(raw),
                    kind=kind,
                    staff_id=staff_id,
                    label=label,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return raw

    def redeem_signin_link(self, raw: str, now: datetime) -> StaffMember | None:
        """The member a one-time link is for, once: the link is used up by this call; None when unknown, used,
        expired, revoked or the member is no longer active."""
        if len(raw) > MAX_TOKEN_LENGTH:
            return None
        digest = token_digest(raw)
        with self.session() as s:
            used = s.execute(
                update(StaffToken)
                .where(
                    col(StaffToken.digest) == digest,
                    col(StaffToken.kind) == TokenKind.SIGNIN.value,
                    col(StaffToken.used_at).is_(None),
                    col(StaffToken.revoked_at).is_(None),
                    col(StaffToken.expires_at) > now,
                )
                .values(used_at=now)
            )
            if used.rowcount != 1:  # type: ignore[attr-defined]
                return None
            token = s.exec(select(StaffToken).where(StaffToken.digest == digest)).one()
            member = s.get(StaffMember, token.staff_id)
            if member is None or not member.active:
                return None
            s.expunge(member)
            return member

    def token_holder(self, raw: str, kind: TokenKind, now: datetime) -> StaffMember | None:
        """The active member a session or API token stands for; None when unknown, revoked or expired."""
        if not raw or len(raw) > MAX_TOKEN_LENGTH:
            return None
        with self.session() as s:
            found = s.exec(
                select(StaffToken, StaffMember)
                .join(StaffMember, col(StaffMember.id) == col(StaffToken.staff_id))
                .where(
                    col(StaffToken.digest) == token_digest(raw),
                    col(StaffToken.kind) == kind.value,
                    col(StaffToken.revoked_at).is_(None),
                )
            ).first()
            if found is None:
                return None
            token, member = found
            if (token.expires_at is not None and token.expires_at <= now) or not member.active:
                return None
            if kind is TokenKind.API:
                token.used_at = now  # when it was last used, shown to its holder
                s.add(token)
            s.expunge(member)
            return member

    def revoke_token(self, raw: str, now: datetime) -> None:
        if len(raw) > MAX_TOKEN_LENGTH:
            return
        with self.session() as s:
            s.execute(
                update(StaffToken)
                .where(col(StaffToken.digest) == token_digest(raw), col(StaffToken.revoked_at).is_(None))
                .values(revoked_at=now)
            )

    def api_tokens(self, staff_id: str) -> list[StaffToken]:
        """The member's personal API tokens, newest first (revoked ones included, marked)."""
        with self.session() as s:
            return list(
                s.exec(
                    select(StaffToken)
                    .where(StaffToken.staff_id == staff_id, StaffToken.kind == TokenKind.API.value)
                    .order_by(col(StaffToken.id).desc())
                )
            )

    def revoke_api_token(self, staff_id: str, token_id: int, now: datetime) -> bool:
        """Revoke one of the member's own API tokens; False when there is no such live token of theirs."""
        with self.session() as s:
            result = s.execute(
                update(StaffToken)
                .where(
                    col(StaffToken.id) == token_id,
                    col(StaffToken.staff_id) == staff_id,
                    col(StaffToken.kind) == TokenKind.API.value,
                    col(StaffToken.revoked_at).is_(None),
                )
                .values(revoked_at=now)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]
