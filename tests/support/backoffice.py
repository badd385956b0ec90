"""Signing a test client in to the back-office, and the CSRF token of a page's form."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from activities_impl.store import Store
from domain.staff import SIGNIN_LINK_LIFETIME, Role, TokenKind
from domain.tables import StaffMember


class _Csrf(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name") == "csrf_token" and self.token is None:
            self.token = values.get("value")


def csrf_of(html: str) -> str:
    parser = _Csrf()
    parser.feed(html)
    assert parser.token, "the page has no form with a CSRF token"
    return parser.token


def signin_link(store: Store, member: StaffMember) -> str:
    now = datetime.now(UTC)
    return store.issue_token(member.id, TokenKind.SIGNIN, now, now + SIGNIN_LINK_LIFETIME)


def sign_in(
    client: TestClient, store: Store, email: str = "samordnare@miun.se", role: Role = Role.COORDINATOR
) -> StaffMember:
    """Creates the staff member (if need be) and signs the client in with a one-time link, as a browser would."""
    member, _ = store.add_staff(email, role, name=email.split("@")[0].capitalize())
    token = signin_link(store, member)
    page = client.get(f"/admin/signin/{token}")
    response = client.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return member


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, str | list[str]], **kwargs: object):
    """Opens the page (for its CSRF token) and posts the form to `action`."""
    page = client.get(page_path)
    return client.post(action, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


async def sign_in_async(client, store: Store, email: str = "samordnare@miun.se", role: Role = Role.COORDINATOR):
    """`sign_in` for an httpx.AsyncClient (the app on the test's event loop, with the Temporal client)."""
    member, _ = store.add_staff(email, role, name=email.split("@")[0].capitalize())
    token = signin_link(store, member)
    page = await client.get(f"/admin/signin/{token}")
    response = await client.post(f"/admin/signin/{token}", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    return member


async def post_async(client, page_path: str, action: str, data: dict[str, str | list[str]]):
    """Opens the page (for its CSRF token) and posts the form to `action`, as a browser without JavaScript."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"csrf_token": csrf_of(page.text), **data})


class _FormFields(HTMLParser):
    """The fields a browser would send for the form posting to `action` (its default button not included)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, []  # type: ignore[var-annotated]
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._first_option, self._selected = name, None, False
        elif tag == "option" and self._select is not None:
            if self._first_option is None:
                self._first_option = a.get("value") or ""
            if "selected" in a:
                self.fields.append((self._select, a.get("value") or ""))
                self._selected = True
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields.append((name, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.fields.pop()
            self.fields.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            if not self._selected:
                self.fields.append((self._select, self._first_option or ""))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_fields(html: str, action: str) -> dict[str, str | list[str]]:
    """What the page's form for `action` would post as it stands (repeated names as lists)."""
    parser = _FormFields(action)
    parser.feed(html)
    out: dict[str, str | list[str]] = {}
    for name, value in parser.fields:
        if name in out:
            current = out[name]
            out[name] = [*current, value] if isinstance(current, list) else [current, value]
        else:
            out[name] = value
    return out
