"""End to end: `runflow up` prints a one-time sign-in link for the demo coordinator, and it signs in once."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.backoffice import csrf_of
from tests.support.waiting import wait_for_sync

pytestmark = pytest.mark.e2e
LINE = re.compile(r"^Back-office:\s+(\S+) \(one-time, 15 min; samordnare@run\.example\.se\)$", re.M)


def test_the_printed_back_office_link_signs_the_demo_coordinator_in(stack):
    assert stack.up is not None
    line = wait_for_sync(lambda: LINE.search(stack.up.log()), 10, "the Back-office line")
    link = line.group(1)
    assert link.startswith(f"{stack.base_url}/admin/signin/")
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        page = browser.get(link)
        landed = browser.post(link, data={"csrf_token": csrf_of(page.text)})
        assert landed.status_code == 200 and landed.url == f"{stack.base_url}/admin/"
        assert "Demosamordnare" in landed.text and "Samordnare" in landed.text
    with httpx.Client(follow_redirects=True, timeout=20) as other:
        page = other.get(link)
        assert other.post(link, data={"csrf_token": csrf_of(page.text)}).status_code == 410  # used up
