"""Single sign-on's keys and configuration: the JWKS URL is fetched once, cached, refetched
for an unknown kid at most once per `refresh_min_s` and not retried within it after a
failure (so made-up key ids cannot make the service hammer the provider); `alg: none` and
HS256 tokens never cause a fetch; the configuration refuses what would weaken the checks,
from the library and from `serve`'s options."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cli.main import build_parser, main
from cli.oidc_options import oidc_config
from jobs.service import ServiceConfig
from jobs.service.jwks import JwksFile, JwksUrl, KeyNotFound, KeysUnavailable
from jobs.service.oidc import ALGORITHMS, OidcConfig, parse_role_map
from jobs.store import ResultsStore, TokenKey
from kernel.errors import BadInput
from kernel.roles import Role
from tests.oidc_helpers import AUDIENCE, ISSUER, Provider, forged_hs256, jwks_server, unsigned
from tests.service_helpers import running_service
from tests.store_helpers import audit_key


@pytest.fixture(scope="module")
def provider() -> Provider:
    return Provider()


def test_the_service_fetches_once_and_unknown_kids_do_not_refetch(provider, tmp_path
                                                                 ) -> None:
    key = TokenKey.load(tmp_path / "state", create=True)
    with jwks_server(provider, "rsa-1") as idp, ResultsStore.open(
            f"sqlite:///{tmp_path / 'svc.db'}", audit_key=audit_key()) as store:
        oidc = OidcConfig(ISSUER, AUDIENCE, jwks_url=idp.url,
                          role_map=parse_role_map("lungscreen-analyst=analyst"))
        config = ServiceConfig(store, failed_logins_per_minute=1000, token_key=key, oidc=oidc)
        with running_service(config) as svc:
            # the header is checked before any key is looked up: no fetch for these
            for bad in (unsigned(provider.claims(), kid="k-1"),
                        forged_hs256(provider.claims(), provider.public_pem(), kid="k-2")):
                assert svc.call("GET", "/api/v1/whoami", bad).status_code == 401
            assert idp.fetches == 0
            assert svc.call("GET", "/api/v1/whoami", provider.token()).status_code == 200
            assert idp.fetches == 1
            for i in range(20):  # made-up key ids, signed by a real key or not
                got = svc.call("GET", "/api/v1/whoami",
                               provider.token(f"made-up-{i}", key=provider.keys["rsa-1"]))
                assert got.status_code == 401
            assert idp.fetches == 1  # within the cooldown: the cached set answers
            assert svc.call("GET", "/api/v1/whoami", provider.token()).status_code == 200
        refusals = [e.detail["refusal"] for e in store.events() if e.kind == "api_request"]
        assert refusals.count("oidc_unknown_key") == 20
        assert refusals.count("oidc_bad_algorithm") == 2


def test_a_rotated_key_is_fetched_once_the_cooldown_has_passed(provider) -> None:
    with jwks_server(provider, "rsa-1") as idp:
        keys = JwksUrl(idp.url, ALGORITHMS, refresh_min_s=0.5)
        assert keys.key("rsa-1").key_id == "rsa-1"
        idp.kids = ("rsa-1", "ec-1")  # the provider rotates in a new key
        with pytest.raises(KeyNotFound):
            keys.key("ec-1")  # cooling down: not fetched yet
        assert idp.fetches == 1
        time.sleep(0.6)
        assert keys.key("ec-1").key_id == "ec-1"
        assert idp.fetches == 2


def test_a_failing_provider_is_not_asked_again_within_the_cooldown(provider) -> None:
    with jwks_server(provider, "rsa-1") as idp:
        idp.status = 500
        keys = JwksUrl(idp.url, ALGORITHMS, refresh_min_s=30)
        for _ in range(10):
            with pytest.raises(KeysUnavailable):
                keys.key("rsa-1")
        assert idp.fetches == 1


def test_a_cached_set_is_served_while_the_provider_fails(provider) -> None:
    with jwks_server(provider, "rsa-1") as idp:
        keys = JwksUrl(idp.url, ALGORITHMS, refresh_min_s=0.2)
        assert keys.key("rsa-1")
        time.sleep(0.3)
        idp.status = 500
        for _ in range(5):
            with pytest.raises(KeysUnavailable):
                keys.key("made-up")  # one refetch, which fails; then held back
            assert keys.key("rsa-1").key_id == "rsa-1"
        assert idp.fetches == 2


def test_a_symmetric_key_in_the_set_is_never_used(provider, tmp_path) -> None:
    oct_key = {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac-1", "alg": "HS256"}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [oct_key, *provider.jwks("rsa-1")["keys"]]}))
    keys = JwksFile(path, ALGORITHMS)
    assert keys.key("rsa-1").key_id == "rsa-1"
    with pytest.raises(KeyNotFound):
        keys.key("hmac-1")
    path.write_text(json.dumps({"keys": [oct_key]}))
    with pytest.raises(BadInput, match="no signing key"):
        JwksFile(path, ALGORITHMS)


def test_a_jwks_file_others_may_write_is_refused(provider, tmp_path) -> None:
    path = provider.write_jwks(tmp_path / "jwks.json")
    path.chmod(0o666)
    with pytest.raises(BadInput, match="chmod go-w"):
        JwksFile(path, ALGORITHMS)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"jwks_url": "http://idp.example.org/certs"}, "plain HTTP"),
    ({"jwks_url": "file:///etc/passwd"}, "not an http"),
    ({"jwks_url": "https://idp/certs", "jwks_file": Path("j.json")}, "one key source"),
    ({}, "one key source"),
    ({"jwks_url": "https://idp/certs", "algorithms": ("RS256", "HS256")}, "'HS256'"),
    ({"jwks_url": "https://idp/certs", "algorithms": ("none",)}, "'none'"),
    ({"jwks_url": "https://idp/certs", "leeway_s": 61}, "0..60"),
    ({"jwks_url": "https://idp/certs", "roles_claim": "realm_access..roles"}, "claim path"),
    ({"jwks_url": "https://idp/certs", "name_claim": "email"}, "name claim"),
])
def test_the_config_refuses_what_would_weaken_the_checks(changes, expected) -> None:
    with pytest.raises(BadInput, match=expected):
        OidcConfig(ISSUER, AUDIENCE, **changes)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/certs", "http://localhost/certs",
                                 "http://[::1]/certs", "https://idp.example.org/certs"])
def test_https_or_loopback_jwks_urls_are_taken(url) -> None:
    assert OidcConfig(ISSUER, AUDIENCE, jwks_url=url).jwks_url == url


def test_the_role_map_is_parsed_and_checked() -> None:
    assert parse_role_map("kc-analyst=analyst, kc-boss=authority") == {
        "kc-analyst": Role.ANALYST, "kc-boss": Role.AUTHORITY}
    for bad in ("kc-analyst=admin", "=analyst", "", "kc-analyst"):
        with pytest.raises(BadInput):
            parse_role_map(bad)


def test_serve_options_make_the_config(tmp_path) -> None:
    args = build_parser().parse_args([
        "serve", "--port", "0", "--oidc-issuer", ISSUER, "--oidc-audience", AUDIENCE,
        "--oidc-jwks-url", "https://kc.example.org/realms/health/protocol/openid-connect/certs",
        "--oidc-roles-claim", "resource_access.lungscreen.roles",
        "--oidc-role-map", "lungscreen-analyst=analyst"])
    config = oidc_config(args)
    assert config is not None and config.roles_claim == "resource_access.lungscreen.roles"
    assert dict(config.role_map) == {"lungscreen-analyst": Role.ANALYST}
    assert config.name_claim == "sub" and config.algorithms == ("RS256", "ES256")
    assert oidc_config(build_parser().parse_args(["serve", "--port", "0"])) is None


@pytest.mark.parametrize(("argv", "expected"), [
    (["--oidc-issuer", ISSUER, "--oidc-jwks-url", "https://idp/certs"], "--oidc-audience"),
    (["--oidc-issuer", ISSUER, "--oidc-audience", AUDIENCE, "--oidc-jwks-url",
      "http://idp.example.org/certs"], "plain HTTP"),
    (["--oidc-issuer", ISSUER, "--oidc-audience", AUDIENCE], "one key source"),
])
def test_serve_refuses_bad_options_before_serving(tmp_path, monkeypatch, capsys, argv,
                                                  expected) -> None:
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    code = main(["serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 'x.db'}", *argv])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "serving on" not in err


def test_every_mapped_refusal_is_a_declared_reason_and_a_metric_label() -> None:
    from jobs.service import oidc
    from jobs.service.metrics import REFUSALS

    assert {reason for _, reason in oidc._MAPPED} <= set(oidc.REASONS) <= set(REFUSALS)
