"""The page's sign-in over real HTTP: a bad token is a 401 page, audited and limited; the
forms need their CSRF token and refuse another origin; signing out ends the session; the
cookie never authorises a POST; every page carries its security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from jobs.service import ServiceConfig
from jobs.service.sessions import SESSION_COOKIE
from jobs.service.web import HEADERS
from kernel.roles import Role
from tests.page_helpers import csrf_of, sign_in
from tests.service_helpers import Service, running_service, seeded_store

CID = "c-1"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict, object]]:
    folder: Path = tmp_path_factory.mktemp("page-signin")
    with seeded_store(folder, [CID], studies=120) as (store, key, tokens), \
            running_service(ServiceConfig(store, token_key=key),
                            forwarded_allow_ips="127.0.0.1") as svc:
        yield svc, tokens, store


def test_a_bad_token_is_a_401_page_audited_and_counted(tmp_path: Path) -> None:
    with seeded_store(tmp_path, [CID], studies=40) as (store, key, tokens), \
            running_service(ServiceConfig(store, token_key=key,
                                          failed_logins_per_minute=4)) as svc:
        browser = requests.Session()
        got = []
        for _ in range(5):
            csrf = csrf_of(browser.get(svc.url + "/").text)
            got.append(browser.post(svc.url + "/signin", allow_redirects=False,
                                    data={"token": "ls_" + "0" * 32 + "_x", "csrf": csrf}))
        assert [g.status_code for g in got] == [401, 401, 401, 401, 429]  # 4 a minute
        assert all(g.headers["content-type"].startswith("text/html") for g in got)
        assert "not valid" in got[0].text and "Too many" in got[-1].text
        assert all(SESSION_COOKIE not in g.cookies for g in got)
        # a valid token is still served from the same address
        signed = sign_in(svc.url, tokens[Role.ANALYST])
        assert signed.get(svc.url + "/campaigns").status_code == 200
        signins = [e.detail for e in store.events()
                   if e.kind == "api_request" and e.detail["route"] == "/signin"]
        assert [(d["status"], d["refusal"], d["who"]) for d in signins] == \
            [(401, "bad_token", "")] * 4 + [(303, "", "analyst-tok")]  # 429s: summarised


def test_the_forms_need_their_csrf_token_and_their_own_origin(served) -> None:
    svc, tokens, _ = served
    browser = requests.Session()
    csrf = csrf_of(browser.get(svc.url + "/").text)
    token = tokens[Role.ANALYST]
    for data, headers in [({"token": token}, {}),
                          ({"token": token, "csrf": "0" * 64}, {}),
                          ({"token": token, "csrf": csrf}, {"Origin": "https://evil.test"}),
                          ({"token": token, "csrf": csrf}, {"Sec-Fetch-Site": "cross-site"})]:
        got = browser.post(svc.url + "/signin", data=data, headers=headers,
                           allow_redirects=False)
        assert got.status_code == 403 and SESSION_COOKIE not in got.cookies, (data, headers)
    # without the form's cookie (a cross-site post carries none) the token is refused too
    bare = requests.post(svc.url + "/signin", data={"token": token, "csrf": csrf},
                         allow_redirects=False)
    assert bare.status_code == 403
    huge = browser.post(svc.url + "/signin", data={"token": "x" * 10_000, "csrf": csrf})
    assert huge.status_code == 413 and huge.headers["content-type"].startswith("text/html")
    signed = sign_in(svc.url, token)
    for data in ({}, {"csrf": csrf}):  # sign-out needs the session's own token
        assert signed.post(svc.url + "/signout", data=data,
                           allow_redirects=False).status_code == 403
    assert signed.get(svc.url + "/campaigns", allow_redirects=False).status_code == 200


def test_signing_out_clears_the_cookie_and_ends_the_session(served) -> None:
    svc, tokens, store = served
    browser = sign_in(svc.url, tokens[Role.ANALYST])
    sid = browser.cookies[SESSION_COOKIE]
    page = browser.get(svc.url + "/campaigns")
    out = browser.post(svc.url + "/signout", data={"csrf": csrf_of(page.text)},
                       allow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert f"{SESSION_COOKIE}=" in out.headers["set-cookie"]
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert SESSION_COOKIE not in browser.cookies
    # a copy of the old cookie is worth nothing: the session is gone from the service
    stale = requests.get(svc.url + "/campaigns", cookies={SESSION_COOKIE: sid},
                         allow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == "/"
    last = [e.detail for e in store.events() if e.detail.get("route") == "/signout"][-1]
    assert (last["who"], last["status"]) == ("analyst-tok", 303)


def test_the_cookie_authorises_gets_never_a_post(served) -> None:
    svc, tokens, store = served
    browser = sign_in(svc.url, tokens[Role.AUTHORITY])
    report = browser.get(f"{svc.url}/api/v1/campaigns/{CID}/report?format=csv")
    assert report.status_code == 200 and report.text.startswith("level,")
    recall = browser.post(f"{svc.url}/api/v1/campaigns/{CID}/recall", json={})
    assert recall.status_code == 401  # a cross-site form would carry the cookie: refused
    assert recall.headers["content-type"] == "application/json"  # the API stays JSON
    refused = [e.detail for e in store.events() if e.detail.get("route", "").endswith("recall")]
    assert refused[-1]["refusal"] == "cookie_not_for_writes"
    # with the bearer token the same request passes the role check
    assert svc.call("POST", f"/api/v1/campaigns/{CID}/recall", tokens[Role.AUTHORITY],
                    json={}).status_code not in (401, 403)


def test_pages_carry_their_security_headers_and_cookie_attributes(served) -> None:
    svc, tokens, _ = served
    form = requests.get(svc.url + "/")
    assert "default-src 'none'" in HEADERS["Content-Security-Policy"]
    browser = sign_in(svc.url, tokens[Role.ANALYST])
    pages = [form, browser.get(svc.url + "/campaigns"),
             browser.get(f"{svc.url}/campaigns/{CID}?by=region,site"),
             browser.get(f"{svc.url}/campaigns/{CID}/exact"),  # 403
             browser.get(f"{svc.url}/campaigns/nope"),  # 404
             browser.get(f"{svc.url}/campaigns/{CID}?by=county"),  # 400
             svc.call("GET", f"/campaigns/{CID}/exact?min_cell=x", tokens[Role.AUTHORITY]),
             requests.get(svc.url + "/campaigns", allow_redirects=False),  # 303
             svc.call("GET", f"/campaigns/{CID}/exact", tokens[Role.AUTHORITY])]
    assert [p.status_code for p in pages] == [200, 200, 200, 403, 404, 400, 400, 303, 200]
    for page in pages:
        for name, value in HEADERS.items():
            assert page.headers[name] == value, (page.url, name)
        assert "http://" not in page.text and "https://" not in page.text  # no remote asset
        if page.status_code != 303:
            assert page.headers["content-type"].startswith("text/html"), page.url
    cookie = form.headers["set-cookie"]
    assert all(a in cookie for a in ("HttpOnly", "Path=/", "SameSite=strict"))
    assert "Secure" not in cookie  # plain HTTP on loopback
    tls = requests.get(svc.url + "/", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in tls.headers["set-cookie"]  # behind a TLS proxy
