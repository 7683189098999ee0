"""Signing in to the analysts' page as a browser does (the form, its CSRF token, cookies),
over real HTTP against a running service (tests/service_helpers.py)."""

from __future__ import annotations

import re

import requests

__all__ = ["csrf_of", "sign_in"]


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no form with a CSRF token on the page"
    return match.group(1)


def sign_in(url: str, token: str) -> requests.Session:
    """A session signed in through the form, as a browser would be."""
    browser = requests.Session()
    form = browser.get(url + "/", timeout=30)
    got = browser.post(url + "/signin", data={"token": token, "csrf": csrf_of(form.text)},
                       allow_redirects=False, timeout=30)
    assert got.status_code == 303 and got.headers["location"] == "/campaigns", got.text
    return browser
