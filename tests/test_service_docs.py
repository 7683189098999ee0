"""Swagger UI and ReDoc from the service's own assets, over real HTTP: the pages name no
http(s) URL outside the service, and every asset they reference is served (200), so the
docs work on a network without internet. Only the known assets are served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest

from jobs.service import ServiceConfig
from jobs.service.routes.docs import ASSETS
from tests.service_helpers import running_service, seeded_store

_URL = re.compile(r"""https?://[^\s"'<>)]+""")
_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")
_SPEC = re.compile(r"""spec-url\s*=\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with seeded_store(tmp_path_factory.mktemp("docs"), ("docs-1",), studies=20) as (
            store, key, _), running_service(ServiceConfig(store, token_key=key)) as svc:
        yield svc


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_only_from_the_service(service, page):
    got = service.call("GET", page)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/html")
    html = got.text
    assert [u for u in _URL.findall(html) if not u.startswith(service.url)] == []
    refs = [a or b for a, b in _REF.findall(html)] + _SPEC.findall(html)
    assert any(r.endswith(".js") for r in refs) and "/openapi.json" in refs, refs
    for ref in refs:
        asset = service.call("GET", urljoin(service.url + page, ref).removeprefix(service.url))
        assert asset.status_code == 200, ref
        assert asset.content, ref


def test_only_the_known_assets_are_served(service):
    for name, media in ASSETS.items():
        got = service.call("GET", f"/docs/assets/{name}")
        assert got.status_code == 200 and got.headers["content-type"].startswith(media)
    for name in ("core.py", "..%2F__init__.py", "%2Fetc%2Fpasswd", "swagger-ui.css.map"):
        assert service.call("GET", f"/docs/assets/{name}").status_code == 404, name
