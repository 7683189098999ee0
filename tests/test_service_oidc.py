"""Single sign-on over real HTTP, with a provider the test makes (tests/oidc_helpers.py):
a valid JWT is admitted with its mapped role and reaches only that role's routes; each
attack (wrong issuer, audience or key, expired, not yet valid, no or an unknown or two
roles, `alg: none`, HS256 signed with the public key, an unknown kid) is the same 401 as a
bad token, its reason in the audit row and never the token; refusals count against the
client address; the page's form takes lungscreen tokens only."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from jobs.service import ServiceConfig
from jobs.service.oidc import OidcConfig, parse_role_map
from jobs.store import ResultsStore
from kernel.roles import Role
from tests.oidc_helpers import AUDIENCE, ISSUER, Provider, forged_hs256, unsigned
from tests.page_helpers import csrf_of
from tests.service_helpers import Service, running_service, seeded_store

CID = "oidc-c1"
OTHER = "oidc-c2"
GENERIC = "a valid bearer token is required (lungscreen token create)"
ROLE_MAP = "lungscreen-analyst=analyst,lungscreen-authority=authority,lungscreen-ops=ops"


@pytest.fixture(scope="module")
def provider() -> Provider:
    return Provider()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with seeded_store(tmp_path_factory.mktemp("oidc"), [CID, OTHER], studies=60) as found:
        yield found


def _oidc(jwks: Path, **changes: Any) -> OidcConfig:
    return OidcConfig(ISSUER, AUDIENCE, jwks_file=jwks, role_map=parse_role_map(ROLE_MAP),
                      **changes)


@pytest.fixture(scope="module")
def served(seeded: Any, provider: Provider, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Service, ResultsStore]]:
    store, key, _ = seeded
    jwks = provider.write_jwks(tmp_path_factory.mktemp("jwks") / "jwks.json")
    config = ServiceConfig(store, failed_logins_per_minute=10_000, token_key=key,
                           oidc=_oidc(jwks))
    with running_service(config) as svc:
        yield svc, store


def _last_request(store: ResultsStore) -> dict[str, Any]:
    return [e.detail for e in store.events() if e.kind == "api_request"][-1]


def _refused(served: tuple[Service, ResultsStore], token: str) -> str:
    """The audit row's refusal of a request with `token`, after checking that it was the
    generic 401 and that the token is nowhere in the trail."""
    svc, store = served
    got = svc.call("GET", "/api/v1/whoami", token)
    assert got.status_code == 401 and got.json() == {"detail": GENERIC}
    assert got.headers["WWW-Authenticate"] == "Bearer"
    assert token not in json.dumps([e.detail for e in store.events()])
    row = _last_request(store)
    assert row["status"] == 401 and row["who"] == ""
    return str(row["refusal"])


def test_a_valid_token_is_admitted_with_its_mapped_role_and_only_its_routes(served, provider
                                                                            ) -> None:
    svc, store = served
    token = provider.token()
    who = svc.call("GET", "/api/v1/whoami", token)
    assert who.status_code == 200, who.text
    assert who.json()["name"] == "oidc:4f1c2d3e-analyst" and who.json()["role"] == "analyst"
    assert svc.call("GET", f"/api/v1/campaigns/{CID}/report", token).status_code == 200
    assert svc.call("POST", f"/api/v1/campaigns/{CID}/recall", token).status_code == 403
    assert svc.call("GET", f"/api/v1/campaigns/{CID}/status", token).status_code == 403
    row = _last_request(store)
    assert row["who"] == "oidc:4f1c2d3e-analyst" and row["refusal"] == "wrong_role"
    trail = json.dumps([e.detail for e in store.events()])
    assert "ann@example.org" not in trail and token not in trail  # the subject id only


def test_an_es256_token_and_an_audience_list_are_admitted(served, provider) -> None:
    svc, _ = served
    token = provider.token("ec-1", aud=["account", AUDIENCE],
                           realm_access={"roles": ["lungscreen-ops"]})
    got = svc.call("GET", "/api/v1/health", token)
    assert got.status_code == 200, got.text


def test_the_clock_leeway_admits_a_token_just_expired_not_one_long_expired(served, provider
                                                                          ) -> None:
    svc, _ = served
    now = int(time.time())
    assert svc.call("GET", "/api/v1/whoami", provider.token(exp=now - 10)).status_code == 200
    assert _refused(served, provider.token(exp=now - 90)) == "oidc_expired"


ATTACKS = {
    "wrong_issuer": (lambda p: p.token(iss="https://evil.test/realms/health"),
                     "oidc_bad_issuer"),
    "issuer_prefix": (lambda p: p.token(iss=ISSUER + "-evil"), "oidc_bad_issuer"),
    "wrong_audience": (lambda p: p.token(aud="another-client"), "oidc_bad_audience"),
    "no_audience": (lambda p: p.token(aud=None), "oidc_missing_claim"),
    "another_key": (lambda p: p.token("rsa-1", key=Provider().keys["rsa-1"]),
                    "oidc_bad_signature"),
    "expired": (lambda p: p.token(exp=int(time.time()) - 3600,
                                  iat=int(time.time()) - 7200), "oidc_expired"),
    "not_yet_valid": (lambda p: p.token(nbf=int(time.time()) + 600), "oidc_not_yet_valid"),
    "issued_in_the_future": (lambda p: p.token(iat=int(time.time()) + 600),
                             "oidc_not_yet_valid"),
    "no_expiry": (lambda p: p.token(exp=None), "oidc_missing_claim"),
    "no_subject": (lambda p: p.token(sub=None), "oidc_missing_claim"),
    "unknown_role": (lambda p: p.token(realm_access={"roles": ["offline_access", "admin"]}),
                     "oidc_unknown_role"),
    "role_named_as_ours_but_unmapped": (lambda p: p.token(realm_access={"roles": ["analyst"]}),
                                        "oidc_unknown_role"),
    "no_role": (lambda p: p.token(realm_access=None), "oidc_no_role"),
    "two_roles": (lambda p: p.token(realm_access={
        "roles": ["lungscreen-analyst", "lungscreen-authority"]}), "oidc_ambiguous_role"),
    "alg_none": (lambda p: unsigned(p.claims()), "oidc_bad_algorithm"),
    "hs256_public_key_as_secret": (lambda p: forged_hs256(p.claims(), p.public_pem()),
                                   "oidc_bad_algorithm"),
    "rsa_kid_ec_signature": (lambda p: p.token("rsa-1", key=p.keys["ec-1"]),
                             "oidc_bad_algorithm"),
    "unknown_kid": (lambda p: p.token("rsa-9", key=p.keys["rsa-1"]), "oidc_unknown_key"),
    "no_kid": (lambda p: jwt.encode(p.claims(), p.keys["rsa-1"], algorithm="RS256"),
               "oidc_unknown_key"),
    "not_a_jwt": (lambda p: "e30.e30.!!", "bad_token"),
    "garbage_in_jwt_shape": (lambda p: "bm90IGpzb24.e30.c2ln", "oidc_malformed"),
    "unknown_critical_header": (lambda p: p.token(headers={"crit": ["exp-policy"],
                                                           "exp-policy": 1}),
                                "oidc_malformed"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_is_a_generic_401_with_its_reason_audited(served, provider, attack
                                                              ) -> None:
    make, reason = ATTACKS[attack]
    assert _refused(served, make(provider)) == reason


def test_the_forged_tokens_are_well_made_so_only_the_checks_refuse_them(provider) -> None:
    """The attack tokens are not refused for a slip of the test's: the HS256 forgery's MAC
    verifies under the public key, and the claims of every token but the attacked one are
    the valid token's."""
    import hashlib
    import hmac

    from tests.oidc_helpers import b64

    forged = forged_hs256(provider.claims(), provider.public_pem())
    signing_input, _, mac = forged.rpartition(".")
    assert b64(hmac.new(provider.public_pem(), signing_input.encode(),
                        hashlib.sha256).digest()) == mac
    body = jwt.decode(unsigned(provider.claims()), options={"verify_signature": False})
    assert body["iss"] == ISSUER and body["aud"] == AUDIENCE


def test_a_jwt_without_a_configured_provider_is_a_bad_token(seeded, provider) -> None:
    store, key, _ = seeded
    with running_service(ServiceConfig(store, token_key=key)) as svc:
        got = svc.call("GET", "/api/v1/whoami", provider.token())
        assert got.status_code == 401 and got.json() == {"detail": GENERIC}
        assert _last_request(store)["refusal"] == "bad_token"


def test_refusals_count_against_the_client_address_whatever_the_subject(
        seeded, provider, tmp_path) -> None:
    store, key, tokens = seeded
    jwks = provider.write_jwks(tmp_path / "jwks.json")
    config = ServiceConfig(store, failed_logins_per_minute=3, token_key=key, oidc=_oidc(jwks))
    with running_service(config) as svc:
        # a new subject (and jti) each time: the address is what is counted
        codes = [svc.call("GET", "/api/v1/whoami", provider.token(
            aud="x", sub=f"s-{i}", jti=f"j-{i}")).status_code for i in range(5)]
        assert codes == [401] * 3 + [429] * 2
        # a valid token, SSO or lungscreen's own, is still served from that address
        assert svc.call("GET", "/api/v1/whoami", provider.token()).status_code == 200
        assert svc.call("GET", "/api/v1/whoami", tokens[Role.OPS]).status_code == 200


def test_the_campaigns_claim_scopes_and_its_absence_is_refused(seeded, provider,
                                                               tmp_path) -> None:
    store, key, _ = seeded
    jwks = provider.write_jwks(tmp_path / "jwks.json")
    config = ServiceConfig(store, failed_logins_per_minute=100, token_key=key,
                           oidc=_oidc(jwks, campaigns_claim="lungscreen.campaigns"))
    with running_service(config) as svc:
        scoped = provider.token(lungscreen={"campaigns": [CID]})
        assert svc.call("GET", f"/api/v1/campaigns/{CID}/report", scoped).status_code == 200
        assert svc.call("GET", f"/api/v1/campaigns/{OTHER}/report", scoped).status_code == 404
        listed = svc.call("GET", "/api/v1/campaigns", scoped).json()
        assert [c["id"] for c in listed] == [CID]
        for bad in (provider.token(), provider.token(lungscreen={"campaigns": ["../x"]})):
            assert svc.call("GET", "/api/v1/whoami", bad).status_code == 401
            assert _last_request(store)["refusal"] == "oidc_bad_scope"


def test_pages_take_a_bearer_jwt_but_the_sign_in_form_does_not(served, provider) -> None:
    import requests

    svc, store = served
    token = provider.token()
    page = svc.call("GET", f"/campaigns/{CID}", token)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    browser = requests.Session()
    form = browser.get(svc.url + "/", timeout=30)
    got = browser.post(svc.url + "/signin", data={"token": token, "csrf": csrf_of(form.text)},
                       allow_redirects=False, timeout=30)
    assert got.status_code == 401 and "Authorization header" in got.text
    assert "lungscreen_session" not in got.cookies
    assert _last_request(store)["refusal"] == "bad_token"
