"""The store's password comes from a variable or a file the spec names, never from the spec;
a real PostgreSQL role that needs one (scram-sha-256) proves it is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jobs.spec.campaign_spec import load_spec
from jobs.spec.registry import SpecRegistry
from jobs.spec.secrets import open_spec_store
from kernel.errors import BadInput, RetryableError

pytestmark = pytest.mark.integration

SECRET = "pw-7f3c9e-not-in-any-copy"


def _spec(tmp_path: Path, **extra: object) -> Path:
    (tmp_path / "north").mkdir(exist_ok=True)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump({"id": "pw-1", "regions": [
        {"name": "north", "sources": [{"folder": "north"}]}], **extra}))
    return path


def test_a_password_in_the_store_url_is_refused_without_echoing_it(tmp_path):
    path = _spec(tmp_path, store=f"postgresql://u:{SECRET}@db.internal/x")
    with pytest.raises(BadInput) as info:
        load_spec(path)
    assert "store_password_env" in str(info.value) and SECRET not in str(info.value)


def test_password_from_a_file_or_a_variable_opens_a_store_that_needs_it(
    tmp_path, postgres_server
):
    url = postgres_server.create_password_database("pwstore", SECRET)
    secret = tmp_path / "secrets" / "store-password"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    spec = load_spec(_spec(tmp_path, store=url, store_password_file=str(secret)))
    with open_spec_store(spec, {}) as store:
        store.ensure_campaign("pw-1", spec_digest="d", model_name="m", model_version="1")
        assert [c.id for c in store.campaigns()] == ["pw-1"]
    by_env = load_spec(_spec(tmp_path, store=url, store_password_env="STORE_PW"))
    with open_spec_store(by_env, {"STORE_PW": SECRET}) as store:
        assert store.campaign("pw-1") is not None
    with pytest.raises(BadInput, match=r"STORE_PW.*is not set"):
        open_spec_store(by_env, {})
    with pytest.raises((BadInput, RetryableError)) as info:  # the server asks; none given
        open_spec_store(load_spec(_spec(tmp_path, store=url)), {})
    assert SECRET not in str(info.value)
    # the spec's saved copies name the file, never the password
    SpecRegistry(tmp_path / "state").save(spec)
    for copy in [*tmp_path.rglob("spec.json"), *tmp_path.rglob("pw-1.json")]:
        text = copy.read_text()
        assert SECRET not in text and json.loads(text)["store_password_file"] == str(secret)


def test_a_password_file_others_can_read_is_refused(tmp_path):
    secret = tmp_path / "store-password"
    secret.write_text(SECRET)
    secret.chmod(0o644)
    spec = load_spec(_spec(tmp_path, store="postgresql://u@127.0.0.1:1/x",
                           store_password_file=str(secret)))
    with pytest.raises(BadInput, match="chmod 600"):
        open_spec_store(spec, {})
