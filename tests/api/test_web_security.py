"""Hostile input is normal input: security headers, body caps, CSRF tokens, rate limits and e-mail addresses on the
public web (issue 8)."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import httpx
import pytest
from starlette.requests import Request

from api.security import CSP, Csrf, foreign_origin
from api.web import FORM_EXPIRED, TOO_MANY_REGISTRATIONS, create_app
from tests.web_client import csrf_token, fetch_token, post_form
from worker.codec import EncryptionCodec
from worker.settings import Settings

HEADERS = {
    "content-security-policy": CSP,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
GOOD = {"name": "Anna Andersson", "email": "anna@skola.test", "organisation": "sundsvall", "role": "lärare"}
UI = "http://127.0.0.1:8233"


def client_for(app, base_url: str = "http://web.test", **transport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, **transport), base_url=base_url)


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)


async def opened(lab, make_plan, **changes):
    plan = make_plan(await lab.now(), **changes)
    await lab.service.start(plan)
    await lab.advance_to(plan.registration.opens + timedelta(seconds=1))
    return plan


# -- headers -----------------------------------------------------------------
async def test_every_response_carries_the_security_headers_errors_included(sqlite_store):
    app = create_app(
        sqlite_store, codec=EncryptionCodec({"k1": b"1" * 32}, "k1"), codec_token="t", codec_cors_origins=[UI]
    )

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    async with client_for(app, raise_app_exceptions=False, client=("127.0.0.1", 5000)) as web:
        answers = [
            await web.get("/"),
            await web.get("/healthz"),
            await web.get("/a/finns-inte"),
            await web.get("/static/runflow.css"),
            await web.post("/a/finns-inte", data=GOOD),
            await web.post("/a/x", content=b"x" * 70_000),
            await web.get("/boom"),
            await web.options("/codec/decode", headers={"Origin": UI, "Access-Control-Request-Method": "POST"}),
        ]
    assert [a.status_code for a in answers] == [200, 200, 404, 200, 403, 413, 500, 204]
    for answer in answers:
        assert_security_headers(answer)
    assert answers[-1].headers["access-control-allow-origin"] == UI  # the codec server's CORS still answers
    async with client_for(app) as web:
        docs = await web.get("/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


async def test_the_pages_have_no_inline_style_or_script_and_the_stylesheet_is_served(lab, make_plan):
    plan = await opened(lab, make_plan)
    async with client_for(create_app(lab.store, lab.service, secret_key="k")) as web:
        pages = [(await web.get(path)).text for path in ("/", f"/a/{plan.id}", "/a/finns-inte")]
        css = await web.get("/static/runflow.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and ".skip" in css.text
    for html in pages:
        assert '<link rel="stylesheet" href="/static/runflow.css">' in html
        assert not re.search(r"<style|<script|\sstyle=|\son[a-z]+=", html)


# -- body caps ---------------------------------------------------------------
@pytest.mark.parametrize(
    "path,cap",
    [
        ("/a/x", 64 * 1024),
        ("/w/x", 64 * 1024),
        ("/s/x", 64 * 1024),
        ("/api/activities", 1024 * 1024),
        ("/codec/decode", 4 * 1024 * 1024),
    ],
)
async def test_a_body_over_the_cap_of_its_prefix_is_413_before_anything_is_read(lab, path, cap):
    app = create_app(
        lab.store,
        lab.service,
        secret_key="k",
        coordinator_api_token="s3cret",
        codec=EncryptionCodec({"k1": b"1" * 32}, "k1"),
        codec_token="t",
    )
    headers = {
        "Authorization": "Bearer s3cret" if path.startswith("/api") else "Bearer t",
        "Content-Type": "application/json"
        if not path.startswith(("/a", "/w", "/s"))
        else "application/x-www-form-urlencoded",
    }
    async with client_for(app, client=("127.0.0.1", 5000)) as web:
        at_cap = await web.post(path, content=b"x" * cap, headers=headers)
        over = await web.post(path, content=b"x" * (cap + 1), headers=headers)
    assert at_cap.status_code != 413
    assert over.status_code == 413 and over.headers["connection"] == "close", over.text
    assert ("larger than" in over.text) if path.startswith(("/api", "/codec")) else ("för stort" in over.text)


@pytest.mark.parametrize("path,cap", [("/a/x", 64 * 1024), ("/codec/decode", 4 * 1024 * 1024)])
async def test_a_chunked_body_is_counted_as_it_streams(sqlite_store, path, cap):
    app = create_app(sqlite_store, codec=EncryptionCodec({"k1": b"1" * 32}, "k1"), codec_token="t")
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(cap // 8192 + 10):  # no Content-Length: Transfer-Encoding chunked
            sent += 8192
            yield b"x" * 8192

    async with client_for(app, client=("127.0.0.1", 5000)) as web:
        answer = await web.post(
            path,
            content=chunks(),
            headers={
                "Authorization": "Bearer t",
                "Content-Type": "application/x-www-form-urlencoded" if path.startswith("/a") else "application/json",
            },
        )
    assert answer.status_code == 413, answer.text
    assert sent < cap + 3 * 8192  # refused as soon as the cap was passed, not after the whole body
    assert_security_headers(answer)


async def test_body_caps_are_settings(sqlite_store):
    settings = Settings(max_body_forms=1000, _env_file=None)
    assert settings.web_limits()["max_body_forms"] == 1000
    app = create_app(sqlite_store, **settings.web_limits())
    async with client_for(app) as web:
        assert (await web.post("/a/x", content=b"x" * 1001)).status_code == 413
        assert (await web.post("/a/x", content=b"x" * 1000)).status_code == 403  # read, then no CSRF token


# -- CSRF --------------------------------------------------------------------
async def test_the_form_page_sets_the_cookie_and_the_token_is_its_hmac(lab, make_plan):
    plan = await opened(lab, make_plan)
    app = create_app(lab.store, lab.service, secret_key="k")
    async with client_for(app) as web:
        first = await web.get(f"/a/{plan.id}")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("runflow_csrf=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/" in cookie and "Secure" not in cookie
        again = await web.get(f"/a/{plan.id}")  # the cookie is kept: no new one, the same token
        assert "set-cookie" not in again.headers and csrf_token(again.text) == csrf_token(first.text)
    async with client_for(app, base_url="https://web.test") as web:
        assert "Secure" in (await web.get(f"/a/{plan.id}")).headers["set-cookie"]
    async with client_for(create_app(lab.store, lab.service, secret_key="other")) as web:
        web.cookies.set("runflow_csrf", first.cookies["runflow_csrf"], domain="web.test")
        assert csrf_token((await web.get(f"/a/{plan.id}")).text) != csrf_token(first.text)  # bound to the key


@pytest.mark.parametrize("how", ["no token", "wrong token", "no cookie", "token of another cookie", "foreign origin"])
async def test_a_registration_without_a_valid_token_is_refused_403_and_nothing_happens(lab, make_plan, how):
    plan = await opened(lab, make_plan)
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)
    async with client_for(app) as web, client_for(app) as other:
        token = await fetch_token(web, f"/a/{plan.id}")
        data, headers = {**GOOD, "csrf_token": token}, {}
        if how == "no token":
            del data["csrf_token"]
        elif how == "wrong token":
            data["csrf_token"] = "0" * 64
        elif how == "no cookie":
            web.cookies.clear()
        elif how == "token of another cookie":
            data["csrf_token"] = await fetch_token(other, f"/a/{plan.id}")
        else:
            headers["Origin"] = "https://evil.example"
        answer = await web.post(f"/a/{plan.id}", data=data, headers=headers)
    assert answer.status_code == 403 and FORM_EXPIRED in answer.text and 'lang="sv"' in answer.text
    assert f'href="/a/{plan.id}"' in answer.text  # back to the form, which gives a fresh token
    assert lab.store.participant_by_email(plan.id, GOOD["email"]) is None
    assert (await lab.service.status(plan.id)).registrations == 0  # no Update sent


async def test_origin_null_and_the_apps_own_origin_are_accepted(lab, make_plan):
    plan = await opened(lab, make_plan, places=5)
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)
    async with client_for(app) as web:
        for i, origin in enumerate(["null", "http://web.test", "http://WEB.test:80"]):
            answer = await post_form(
                web, f"/a/{plan.id}", {**GOOD, "email": f"p{i}@skola.test"}, headers={"Origin": origin}
            )
            assert answer.status_code == 200, (origin, answer.text[-500:])
    assert (await lab.service.status(plan.id)).registrations == 3


def request(origin: str | None, host: str = "runflow.example.se", scheme: str = "https") -> Request:
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin is not None else [])
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "path": "/a/x",
            "headers": headers,
            "server": (host, 443),
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    "origin,foreign",
    [
        (None, False),
        ("null", False),
        ("https://runflow.example.se", False),
        ("https://runflow.example.se:443", False),
        ("https://RUNFLOW.example.se", False),
        ("http://runflow.example.se", True),
        ("https://evil.example", True),
        ("https://runflow.example.se.evil.example", True),
        ("https://runflow.example.se:8443", True),
        ("garbage", True),
        ("https://[::1", True),
    ],
)
def test_foreign_origin(origin, foreign):
    assert foreign_origin(request(origin)) is foreign


def test_a_token_is_checked_in_constant_time_against_the_cookie():
    csrf = Csrf("k")
    page = request(None)
    token = csrf.token(page)
    cookie = page.scope["runflow_csrf_new_cookie"]
    post = Request(
        {
            **request(None).scope,
            "headers": [(b"host", b"runflow.example.se"), (b"cookie", f"runflow_csrf={cookie}".encode())],
        }
    )
    assert csrf.check(post, token)
    assert not csrf.check(post, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not csrf.check(post, None) and not csrf.check(post, "")
    assert not csrf.check(request(None), token)  # no cookie


async def test_withdrawal_and_survey_need_the_token_too(lab, make_plan):
    plan = await opened(lab, make_plan, places=3, min_participants=1)
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)
    async with client_for(app) as web:
        await post_form(web, f"/a/{plan.id}", GOOD)
        await lab.recorded()  # the confirmation follows the answer
        text = lab.mails("registration", to=GOOD["email"])[0].get_body(preferencelist=("plain",)).get_content()
        withdraw = re.search(r"http://web\.test(/w/\S+)", text).group(1)
        refused = await web.post(withdraw)
        assert refused.status_code == 403 and FORM_EXPIRED in refused.text
        assert (await lab.service.status(plan.id)).confirmed == 1
        await lab.advance_to(plan.sessions[0].start + timedelta(minutes=1))
        await lab.service.attendance(plan.id, 1, [GOOD["email"]])
        await lab.advance_to(plan.sessions[0].end + timedelta(seconds=5))
        [invitation] = lab.store.survey_invitations(plan.id, "s1")
        survey = f"/s/{invitation.token}"
        answers = {"behov": "4", "balans": "4", "ny_kunskap": "4"}
        refused = await web.post(survey, data=answers)
        assert refused.status_code == 403 and FORM_EXPIRED in refused.text
        assert lab.store.survey_answers(plan.id) == []
        assert (await post_form(web, survey, answers)).status_code == 200
        assert len(lab.store.survey_answers(plan.id)) == 1


# -- rate limits -------------------------------------------------------------
async def test_registrations_over_the_limit_per_address_are_429_with_retry_after(lab, make_plan):
    plan = await opened(lab, make_plan, places=10)
    app = create_app(
        lab.store, lab.service, secret_key=lab.settings.secret_key, rate_limit_registrations_per_address="3/hour"
    )
    async with (
        client_for(app, client=("192.0.2.7", 5000)) as web,
        client_for(app, client=("192.0.2.8", 5000)) as neighbour,
    ):
        token = await fetch_token(web, f"/a/{plan.id}")
        for _ in range(5):  # refused for CSRF: not counted
            assert (await web.post(f"/a/{plan.id}", data=GOOD)).status_code == 403
        answers = [
            await web.post(f"/a/{plan.id}", data={**GOOD, "email": f"p{i}@skola.test", "csrf_token": token})
            for i in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert TOO_MANY_REGISTRATIONS in answers[-1].text and 'lang="sv"' in answers[-1].text
        assert 3000 < int(answers[-1].headers["retry-after"]) <= 3600
        assert (await post_form(neighbour, f"/a/{plan.id}", {**GOOD, "email": "n@skola.test"})).status_code == 200
    status = await lab.service.status(plan.id)
    assert status.registrations == 4 and lab.store.participant_by_email(plan.id, "p3@skola.test") is None


async def test_registrations_over_the_limit_per_activity_are_429(lab, make_plan):
    plan = await opened(lab, make_plan, places=10)
    app = create_app(
        lab.store, lab.service, secret_key=lab.settings.secret_key, rate_limit_registrations_per_activity="2/hour"
    )
    statuses = []
    for i in range(3):  # three addresses, one activity
        async with client_for(app, client=(f"192.0.2.{i + 1}", 5000)) as web:
            statuses.append(await post_form(web, f"/a/{plan.id}", {**GOOD, "email": f"p{i}@skola.test"}))
    assert [s.status_code for s in statuses] == [200, 200, 429] and "retry-after" in statuses[-1].headers
    assert (await lab.service.status(plan.id)).registrations == 2


async def test_other_public_posts_are_limited_per_address(lab, make_plan):
    plan = await opened(lab, make_plan)
    app = create_app(
        lab.store, lab.service, secret_key=lab.settings.secret_key, rate_limit_public_posts_per_address="2/minute"
    )
    async with client_for(app) as web:
        token = await fetch_token(web, f"/a/{plan.id}")
        answers = [await web.post("/s/no-such-token", data={"csrf_token": token}) for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 429]
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60 and "för många" in answers[-1].text


def test_the_default_limits_let_a_whole_school_register_from_one_address():
    defaults = Settings(_env_file=None)
    assert defaults.rate_limit_registrations_per_address == "60/hour"
    assert defaults.rate_limit_registrations_per_activity == "1000/hour"
    assert defaults.rate_limit_public_posts_per_address == "300/hour"
    assert (defaults.max_body_forms, defaults.max_body_api, defaults.max_body_codec) == (65536, 1048576, 4194304)


def test_a_bad_rate_limit_setting_is_a_configuration_error(sqlite_store):
    with pytest.raises(ValueError, match="rate limit"):
        create_app(sqlite_store, rate_limit_public_posts_per_address="many")


# -- e-mail addresses and field lengths --------------------------------------
async def test_a_64_kb_email_is_refused_at_once_while_other_pages_stay_fast(lab, make_plan):
    plan = await opened(lab, make_plan)
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)
    async with client_for(app) as web, client_for(app) as reader:
        token = await fetch_token(web, f"/a/{plan.id}")

        async def timed(call):
            started = time.perf_counter()
            answer = await call
            return answer, time.perf_counter() - started

        (hostile, hostile_s), (page, page_s) = await asyncio.gather(
            timed(web.post(f"/a/{plan.id}", data={**GOOD, "email": "a" * 64_000 + "@x.se", "csrf_token": token})),
            timed(reader.get("/")),
        )
    assert hostile.status_code == 422 and "högst 254 tecken" in hostile.text and hostile_s < 1.0
    assert page.status_code == 200 and page_s < 1.0
    assert (await lab.service.status(plan.id)).registrations == 0


@pytest.mark.parametrize("email", ['"a" <x@y.se>', "a,b@evil.example", "a@skola..se", "anna@skola.test\nBcc: x@y.se"])
async def test_an_address_that_is_not_one_plain_mailbox_is_refused_422(lab, make_plan, email):
    plan = await opened(lab, make_plan)
    async with client_for(create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)) as web:
        answer = await post_form(web, f"/a/{plan.id}", {**GOOD, "email": email})
    assert answer.status_code == 422 and "Skriv en giltig e-postadress" in answer.text
    assert (await lab.service.status(plan.id)).registrations == 0


async def test_one_address_in_two_spellings_holds_one_seat(lab, make_plan):
    plan = await opened(lab, make_plan, places=5)
    async with client_for(create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)) as web:
        first = await post_form(web, f"/a/{plan.id}", {**GOOD, "email": "Anna@Sundsvall.SE"})
        second = await post_form(web, f"/a/{plan.id}", {**GOOD, "email": " anna@sundsvall.se"})
    assert first.status_code == 200 and "Du har fått en plats" in first.text
    assert second.status_code == 409 and "redan anmäld" in second.text
    assert lab.store.participant_by_email(plan.id, "anna@sundsvall.se") is not None
    assert (await lab.service.status(plan.id)).registrations == 1


@pytest.mark.parametrize(
    "field,value,says",
    [
        ("name", "n" * 201, "högst 200 tecken"),
        ("school", "s" * 201, "högst 200 tecken"),
        ("team_members", "x" * 5001, "högst 5000 tecken"),
        ("team_members", "A\n" + "b" * 201, "högst 200 tecken"),
        ("organisation", "o" * 101, "Välj kommun"),
        ("role", "r" * 101, "Välj en roll"),
        ("email", "a" * 250 + "@x.se", "högst 254 tecken"),
    ],
)
async def test_every_field_has_a_length_limit(lab, make_plan, field, value, says):
    plan = await opened(lab, make_plan, teams={"allowed": True, "min_size": 2, "max_size": 6})
    async with client_for(create_app(lab.store, lab.service, secret_key=lab.settings.secret_key)) as web:
        answer = await post_form(web, f"/a/{plan.id}", {**GOOD, field: value})
    assert answer.status_code == 422 and says in answer.text, answer.text[-800:]
    assert (await lab.service.status(plan.id)).registrations == 0


async def test_a_422_from_the_api_does_not_echo_what_was_sent(lab):
    app = create_app(lab.store, lab.service, secret_key=lab.settings.secret_key, coordinator_api_token="tok")
    long_address = "a" * 300 + "@skola.test"
    async with client_for(app) as web:
        response = await web.post(
            "/api/activities/nope-nope/attendance",
            headers={"Authorization": "Bearer tok"},
            json={"session_no": 1, "present": [long_address]},
        )
    assert response.status_code == 422
    assert long_address not in response.text and "a" * 100 not in response.text
    assert response.json()["detail"][0]["loc"][-1] == 0  # which field: present[0]


@pytest.mark.parametrize(
    "host,key",
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # the same /64: the same count
        ("::ffff:192.0.2.7", "192.0.2.7"),
    ],
)
def test_rate_limits_count_ipv6_clients_by_their_64(host, key):
    from api.security import client_address

    request = Request({"type": "http", "client": (host, 1234), "headers": []})
    assert client_address(request) == key


async def test_typos_do_not_count_towards_the_limit_per_address(lab, make_plan):
    plan = await opened(lab, make_plan, places=10, min_participants=1)
    app = create_app(
        lab.store, lab.service, secret_key=lab.settings.secret_key, rate_limit_registrations_per_address="2/hour"
    )
    async with client_for(app) as web:
        for _ in range(5):  # a school's secretary mistyping again and again
            typo = await post_form(web, f"/a/{plan.id}", {**GOOD, "email": "anna.skola.test"})
            assert typo.status_code == 422
        for i in range(2):
            ok = await post_form(web, f"/a/{plan.id}", {**GOOD, "email": f"p{i}@skola.test"})
            assert ok.status_code == 200, ok.text
        over = await post_form(web, f"/a/{plan.id}", {**GOOD, "email": "p9@skola.test"})
        assert over.status_code == 429
