"""Campaign scoping over real HTTP: a token scoped to campaign A reaches A's routes as its
role allows; for every route of the OpenAPI with a campaign in its path, B (which exists)
gets exactly the answer of a campaign that does not exist (404), and GET /api/v1/campaigns
lists A only. The scope is covered by the row's MAC: widening it in the store is refused,
and tokens minted before scopes existed verify as they did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cli.main import main
from jobs.release import measure_increment
from jobs.service import ServiceConfig
from jobs.store import ResultsStore, TokenKey
from kernel.roles import Role
from tests.report_results import cohort
from tests.service_helpers import Service, running_service
from tests.store_helpers import audit_key

A, B, GHOST = "camp-a", "camp-b", "camp-z"  # one length: the answers compare byte for byte


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ResultsStore, TokenKey]]:
    key = TokenKey.load(tmp_path / "state", create=True)
    with ResultsStore.open(f"sqlite:///{tmp_path / 'svc.db'}", audit_key=audit_key()) as store:
        for i, cid in enumerate((A, B)):
            store.ensure_campaign(cid, spec_digest="d", model_name="m", model_version="1")
            store.commit_results(cid, cohort(120, seed=i))
            assert measure_increment(store, cid) is not None
        yield store, key


def _routes(svc: Service) -> list[tuple[str, str, list[str]]]:
    spec = svc.call("GET", "/openapi.json").json()
    return [(method.upper(), path, op["x-roles"]) for path, methods in spec["paths"].items()
            for method, op in methods.items() if "{campaign_id}" in path]


def _answer(svc: Service, method: str, path: str, cid: str, token: str) -> tuple[int, str]:
    got = svc.call(method, path.replace("{campaign_id}", cid) + "?by=region", token)
    return got.status_code, got.text.replace(cid, "ID")


def test_a_scoped_token_sees_its_campaigns_only_on_every_route(setup) -> None:
    store, key = setup
    scoped = {r: store.create_token(f"{r.value}-a", r, key=key, campaigns=[A]) for r in Role}
    everyone = store.create_token("ops-all", Role.OPS, key=key)
    with running_service(ServiceConfig(store, token_key=key)) as svc:
        routes = _routes(svc)
        assert {p for _, p, _ in routes} >= {"/api/v1/campaigns/{campaign_id}/report",
                                            "/api/v1/campaigns/{campaign_id}/status",
                                            "/api/v1/campaigns/{campaign_id}/recall"}
        for method, path, roles in routes:
            for role, token in scoped.items():
                own = _answer(svc, method, path, A, token)
                other, ghost = (_answer(svc, method, path, cid, token) for cid in (B, GHOST))
                if role.value not in roles:  # refused by role before any campaign is read
                    assert own[0] == other[0] == ghost[0] == 403, (method, path, role)
                    continue
                assert own[0] not in (401, 403, 404), (method, path, role, own)
                assert other == ghost and other[0] == 404, (method, path, role, other)
        listed = {r: [c["id"] for c in svc.call("GET", "/api/v1/campaigns", t).json()]
                  for r, t in scoped.items() if r is not Role.READER}
        assert all(ids == [A] for ids in listed.values()), listed
        assert [c["id"] for c in svc.call("GET", "/api/v1/campaigns", everyone).json()] \
            == [A, B]
        status = svc.call("GET", f"/api/v1/campaigns/{B}/status", everyone)
        assert status.status_code == 200  # an unscoped token sees every campaign


def test_a_scope_widened_in_the_store_is_refused(setup) -> None:
    store, key = setup
    token = store.create_token("ann", Role.ANALYST, key=key, campaigns=[A])
    who = store.identify(token, key)
    assert who is not None and who.campaigns == frozenset({A})
    for widened in (f"{A},{B}", None):  # another campaign, or every one
        with store._engine.begin() as conn:
            conn.execute(text("UPDATE tokens SET campaigns = :c WHERE name = 'ann'"),
                         {"c": widened})
        assert store.identify(token, key) is None


def test_a_token_minted_before_scopes_still_verifies(tmp_path: Path) -> None:
    key = TokenKey.load(tmp_path / "state", create=True)
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with ResultsStore.open(url) as store:
        token = store.create_token("old-ops", Role.OPS, key=key)
        with store._engine.begin() as conn:  # the store as it was before the column
            conn.execute(text("ALTER TABLE tokens DROP COLUMN campaigns"))
    with ResultsStore.open(url) as store:  # the column is added back, NULL: unscoped
        who = store.identify(token, key)
    assert who is not None and who.name == "old-ops" and who.campaigns is None


def test_token_create_takes_repeated_and_comma_separated_campaigns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["token", "init"]) == 0
    assert main(["token", "create", "--role", "analyst", "--name", "ann", "--store", url,
                 "--campaign", "camp-b,camp-a", "--campaign", "camp-c"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "camp-a, camp-b, camp-c" in out[-2]
    with ResultsStore.open(url) as store:
        who = store.identify(out[-1], TokenKey.load(tmp_path / "state"))
        created = [e.detail for e in store.events() if e.kind == "token_created"]
    assert who is not None and who.campaigns == {"camp-a", "camp-b", "camp-c"}
    assert created[-1]["campaigns"] == "camp-a,camp-b,camp-c"
    assert main(["token", "list", "--store", url]) == 0
    assert "camp-a,camp-b,camp-c" in capsys.readouterr().out
    assert main(["token", "create", "--role", "ops", "--name", "bad", "--store", url,
                 "--campaign", "Camp_A"]) == 2
    assert "not a campaign id" in capsys.readouterr().err
