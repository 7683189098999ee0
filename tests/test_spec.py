"""Campaign spec v1: the examples load, defaults resolve, errors name field, value and fix."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from jobs.spec.campaign_spec import load_spec, parse_spec, spec_digest
from jobs.spec.sources import Credentials, resolve_credentials
from kernel.errors import BadInput

EXAMPLES = Path(__file__).resolve().parents[1] / "jobs" / "examples"


def _write(tmp_path: Path, doc: dict | str) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def _minimal(tmp_path: Path, **extra) -> dict:
    (tmp_path / "north").mkdir(exist_ok=True)
    return {"id": "c-1", "regions": [{"name": "north", "sources": [{"folder": "north"}]}],
            **extra}  # fmt: skip


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_examples_load(example: str) -> None:
    spec = load_spec(EXAMPLES / example, check_paths=False)
    assert spec.regions and spec.model.name == "lung_nodule_detector"


def test_example_local_with_its_folders(tmp_path: Path) -> None:
    text = (EXAMPLES / "local.yaml").read_text()
    for region in ("north", "south"):
        (tmp_path / "cohort" / region).mkdir(parents=True)
    spec = load_spec(_write(tmp_path, text), state_dir=tmp_path / "state")
    assert spec.triton is None and spec.residency == "none"
    assert spec.data_dir == tmp_path / "lungscreen-data"
    assert spec.store_url == f"sqlite:///{tmp_path}/lungscreen-data/results.db"
    # the default key sits in the state folder, apart from the data the key re-identifies
    assert spec.key_path == tmp_path / "state" / "pseudonym.key"
    assert not spec.key_beside_store()
    assert spec.regions[1].sources[0].folder == tmp_path / "cohort" / "south"


def test_example_production_fields() -> None:
    spec = load_spec(EXAMPLES / "production.yaml", check_paths=False)
    assert spec.store_url == "postgresql+psycopg://lungscreen@db.internal:5432/lungscreen"
    assert spec.residency == "strict" and spec.deadline == date(2027, 3, 31)
    assert spec.triton is not None and len(spec.triton.urls) == 2
    assert spec.model.version == "1"
    assert spec.key_path == Path("/etc/lungscreen/pseudonym.key")
    web = spec.regions[0].sources[1]
    assert web.kind == "dicomweb" and web.dicomweb is not None
    assert web.dicomweb.username_env == "PACS_NORTH_USER"


def test_defaults(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, _minimal(tmp_path)))
    assert (spec.shard_size, spec.max_shards_in_flight, spec.privacy.min_cell) == (8, 4, 11)
    assert spec.model.version == "1" and spec.deadline is None and spec.privacy.opt_out is None


def test_relative_paths_are_relative_to_the_spec_not_cwd(tmp_path, monkeypatch) -> None:
    doc = _minimal(tmp_path, store="sqlite:///db/results.db", privacy={"key_file": "k/key"})
    path = _write(tmp_path, doc)
    monkeypatch.chdir("/")
    spec = load_spec(path)
    assert spec.store_url == f"sqlite:///{tmp_path}/db/results.db"
    assert spec.key_path == tmp_path / "k" / "key"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "North_1"}, "id: 'North_1' is not valid; expected lowercase letters"),
        ({"shard_size": 0}, "shard_size: 0 is not valid; expected: input should be greater"),
        ({"max_shards_in_flight": 0}, "max_shards_in_flight: 0 is not valid"),
        ({"residency": "maybe"}, "residency: 'maybe' is not valid; expected: input should be "
                                 "'none' or 'strict'"),
        ({"shard_sise": 4}, "shard_sise: is not a known field; did you mean 'shard_size'?"),
        ({"privacy": {"min_cel": 3}}, "privacy.min_cel: is not a known field; did you mean "
                                      "'min_cell'? known here: key_file, min_cell, opt_out"),
        ({"residency": True}, "residency: yes/true/on reads as a YAML boolean, not a word; "
                              "expected: input should be 'none' or 'strict'"),
        ({"privacy": {"min_cell": 0}}, "privacy.min_cell: 0 is not valid"),
        ({"privacy": {"opt_out": "nope.txt"}}, "privacy.opt_out: 'nope.txt' (relative to the "
                                               "spec's folder '{tmp}') does not exist"),
        ({"store": "mysql://u:pw@h/db"}, "store: 'mysql://u:***@h/db' uses 'mysql'; expected"),
        ({"triton": {"urls": ["10.0.0.5:8001"]}}, "triton.urls[0]: '10.0.0.5:8001' is not a "
                                                  "Triton URL; expected grpc://HOST:PORT"),
        ({"triton": {"urls": []}}, "triton.urls: [] is not valid"),
        ({"model": {"version": "latest"}}, "model.version: 'latest' is not valid"),
        ({"deadline": "soon"}, "deadline: 'soon' is not valid"),
        ({"regions": []}, "regions: [] is not valid"),
    ],
)  # fmt: skip
def test_field_errors(tmp_path: Path, change: dict, message: str) -> None:
    doc = {**_minimal(tmp_path), **change}
    with pytest.raises(BadInput) as info:
        load_spec(_write(tmp_path, doc))
    assert message.format(tmp=tmp_path) in str(info.value)
    assert "pw" not in str(info.value).replace("pw@", "")  # no password in messages
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize("low", [1, 5, 10])
def test_a_min_cell_below_the_deployment_floor_is_refused(tmp_path: Path, low: int) -> None:
    doc = {**_minimal(tmp_path), "privacy": {"min_cell": low}}
    with pytest.raises(BadInput) as info:
        load_spec(_write(tmp_path, doc))
    text = str(info.value)
    assert f"privacy.min_cell: {low} is below the deployment's floor 11" in text
    assert "set min_cell to 11 or more, or leave it out" in text


@pytest.mark.parametrize(("given", "used"), [(None, 11), (11, 11), (20, 20)])
def test_min_cell_defaults_to_the_floor_and_may_raise_it(tmp_path: Path, given: int | None,
                                                        used: int) -> None:
    from kernel.defaults import MIN_CELL

    privacy = {} if given is None else {"min_cell": given}
    spec = load_spec(_write(tmp_path, {**_minimal(tmp_path), "privacy": privacy}))
    assert MIN_CELL == 11 and spec.privacy.min_cell == used


def test_missing_field(tmp_path: Path) -> None:
    doc = _minimal(tmp_path)
    del doc["id"]
    with pytest.raises(BadInput, match="id: is missing; expected a value"):
        load_spec(_write(tmp_path, doc))


def test_source_errors_name_the_path(tmp_path: Path) -> None:
    doc = _minimal(tmp_path)
    doc["regions"].append(
        {"name": "south", "sources": [{"folder": "/nope"}, {"foldr": "x"},
                                      {"dicomweb": {"url": "ftp://pacs"}},
                                      {"dicomweb": {"url": "http://pacs/dw",
                                                    "username_env": "U"}}]}
    )  # fmt: skip
    with pytest.raises(BadInput) as info:
        load_spec(_write(tmp_path, doc))
    text = str(info.value)
    assert (
        "regions[1].sources[0].folder: '/nope' does not exist; expected a readable folder" in text
    )
    assert "regions[1].sources[1]: {'foldr': 'x'} is not a source; expected {folder: PATH}" in text
    assert "regions[1].sources[2].dicomweb.url: 'ftp://pacs' is not an http(s) URL" in text
    assert "regions[1].sources[3].dicomweb: " in text and "expected both or neither" in text
    assert str(tmp_path / "campaign.yaml") in text


def test_cross_field_checks(tmp_path: Path) -> None:
    (tmp_path / "north" / "sub").mkdir(parents=True)
    doc = _minimal(tmp_path)
    doc["regions"].append({"name": "north", "sources": [{"folder": "elsewhere"}]})
    with pytest.raises(
        BadInput,
        match=r"regions\[1\].name: 'north' is also the name of "
        r"regions\[0\]; expected unique region names",
    ):
        load_spec(_write(tmp_path, doc), check_paths=False)
    doc["regions"][1] = {"name": "south", "sources": [{"folder": "north/sub"}]}
    with pytest.raises(
        BadInput,
        match=r"regions\[1\].sources\[0\].folder: .* overlaps "
        r"regions\[0\].sources\[0\].folder",
    ):
        load_spec(_write(tmp_path, doc))
    web = {"dicomweb": {"url": "http://pacs:8042/dicom-web/"}}
    doc["regions"][1] = {"name": "south", "sources": [web, {"dicomweb": {
        "url": "http://PACS:8042/dicom-web"}}]}  # fmt: skip
    with pytest.raises(
        BadInput,
        match=r"regions\[1\].sources\[1\].dicomweb.url: .* is also "
        r"regions\[1\].sources\[0\].dicomweb.url",
    ):
        load_spec(_write(tmp_path, doc))


def test_key_never_inside_the_store(tmp_path: Path) -> None:
    doc = _minimal(tmp_path, store="sqlite:///data/results.db",
                   privacy={"key_file": "data/results.db"})  # fmt: skip
    with pytest.raises(BadInput, match=r"privacy.key_file: .* is the results store's own file"):
        load_spec(_write(tmp_path, doc))


def test_yaml_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"line 2, column \d+: .*expected valid YAML"):
        load_spec(_write(tmp_path, "id: x\nregions: [a: b: c]\n"))
    with pytest.raises(BadInput, match="campaign spec is a list; expected a mapping"):
        load_spec(_write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(BadInput, match="cannot read it"):
        load_spec(tmp_path / "missing.yaml")


def test_credentials_come_from_the_environment(tmp_path: Path) -> None:
    doc = _minimal(tmp_path)
    doc["regions"][0]["sources"].append(
        {"dicomweb": {"url": "http://pacs/dw", "username_env": "PACS_U",
                      "password_env": "PACS_P"}})  # fmt: skip
    web = load_spec(_write(tmp_path, doc)).regions[0].sources[1].dicomweb
    assert web is not None
    with pytest.raises(BadInput, match=r"environment variable PACS_P .* is not set"):
        resolve_credentials(web, {"PACS_U": "alice"})
    creds = resolve_credentials(web, {"PACS_U": "alice", "PACS_P": "s3cret"})
    assert creds == Credentials("alice", "s3cret") and "s3cret" not in repr(creds)
    open_web = load_spec(_write(tmp_path, _minimal(tmp_path))).regions[0]
    assert open_web.sources[0].kind == "folder"


def test_digest_covers_results_not_runtime_settings(tmp_path: Path) -> None:
    base = parse_spec(_minimal(tmp_path), base_dir=tmp_path)
    same = parse_spec(_minimal(tmp_path, max_shards_in_flight=9, deadline="2027-01-01",
                               triton={"urls": ["grpc://h:8001"]}), base_dir=tmp_path)  # fmt: skip
    other = parse_spec(_minimal(tmp_path, shard_size=3), base_dir=tmp_path)
    assert spec_digest(base) == spec_digest(same) != spec_digest(other)
    assert len(spec_digest(base)) == 64


def test_an_unknown_field_deep_in_a_list_names_the_fields_allowed_there(tmp_path):
    doc = _minimal(tmp_path)
    doc["regions"][0]["colour"] = 1
    with pytest.raises(BadInput) as info:
        load_spec(_write(tmp_path, doc))
    assert ("regions[0].colour: is not a known field; known here: name, sites, sources"
            in str(info.value))
    assert "DESIGN.md" not in str(info.value)


@pytest.mark.parametrize(("sites", "message"), [
    ([{"name": "a", "institutions": ["X"]}, {"name": "a", "institutions": ["Y"]}],
     "sites[1].name: 'a' is declared twice"),
    ([{"name": "other", "institutions": ["X"]}], "sites[0].name: 'other' is reserved"),
    ([{"name": "a", "institutions": ["St Mary"]}, {"name": "b", "institutions": ["ST  MARY"]}],
     "institution 'ST  MARY' is also listed under site 'a'"),
    ([{"name": "a", "institutions": []}], "institutions"),
])
def test_declared_sites_are_unique_and_other_is_reserved(tmp_path, sites, message):
    doc = _minimal(tmp_path)
    doc["regions"][0]["sites"] = sites
    with pytest.raises(BadInput, match=re.escape(message)):
        load_spec(_write(tmp_path, doc))


def test_declared_sites_give_every_study_a_site(tmp_path):
    doc = _minimal(tmp_path)
    doc["regions"][0]["sites"] = [{"name": "b-site", "institutions": ["B"]},
                                  {"name": "a-site", "institutions": ["A", "A annexe"]}]
    region = load_spec(_write(tmp_path, doc)).regions[0]
    assert region.site_codes == ("a-site", "b-site", "other")
    assert region.site_of() == {"A": "a-site", "A ANNEXE": "a-site", "B": "b-site"}


@pytest.mark.parametrize(("text", "message"), [
    ("", "campaign spec is empty; expected a mapping with id, regions"),
    ("# only a comment\n", "campaign spec is empty"),
    ("- a\n- b\n", "campaign spec is a list; expected a mapping"),
    ("north\n", "campaign spec is a single value ('north'); expected a mapping"),
])
def test_a_document_that_is_not_a_mapping_says_what_it_is(tmp_path, text, message):
    path = tmp_path / "campaign.yaml"
    path.write_text(text)
    with pytest.raises(BadInput, match=re.escape(message)):
        load_spec(path)
    assert "NoneType" not in message


def test_campaign_validate_checks_without_running(tmp_path, capsys):
    from cli.main import main

    good = _write(tmp_path, _minimal(tmp_path))
    assert main(["campaign", "validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "is valid: 1 region(s), 1 source(s)" in out
    assert not (tmp_path / "lungscreen-data").exists()  # nothing created, nothing run
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nshard_sise: 2\nregions: [{name: a, sources: [{folder: /nope}]}]\n")
    assert main(["campaign", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'shard_size'" in err and "/nope" in err
    assert main(["campaign", "validate", str(bad), "--no-paths"]) == 2  # the typo remains


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    """Nine levels of nested aliases: 551 bytes that expand to ~10**9 items (the loader
    took 148 s and ~3 GB before); refused while parsing, before anything expands."""
    import time
    import tracemalloc

    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    lines += ["id: bomb", "regions: *a8"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(BadInput, match=r"aliases \(\*name\) are not allowed"):
            load_spec(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 5 and peak < 200 * 2**20


@pytest.mark.parametrize(("change", "message"), [
    ({"shard_size": 10**30}, "shard_size: 1000000000000000000000000000000 is not valid"),
    ({"max_shards_in_flight": 10**12}, "max_shards_in_flight: 1000000000000 is not valid"),
    ({"triton": {"urls": ["grpc://h:8001"], "timeout_s": float("inf")}},
     "triton.timeout_s: inf is not valid"),
    ({"regions": [{"name": "north", "sources": [
        {"dicomweb": {"url": "http://pacs/dicom-web", "timeout_s": 10**9}}]}]},
     "dicomweb.timeout_s: 1000000000 is not valid"),
])
def test_numeric_fields_have_upper_bounds(tmp_path, change, message):
    with pytest.raises(BadInput, match=re.escape(message)):
        load_spec(_write(tmp_path, {**_minimal(tmp_path), **change}))


def test_a_huge_hostile_value_is_shown_as_a_bounded_prefix(tmp_path):
    doc = {**_minimal(tmp_path), "residency": ["x" * 10_000] * 1_000}
    with pytest.raises(BadInput) as info:
        load_spec(_write(tmp_path, doc))
    assert len(str(info.value)) < 1_000


def test_a_dicomweb_url_with_credentials_is_refused_without_echoing_them(tmp_path):
    doc = {**_minimal(tmp_path), "regions": [{"name": "north", "sources": [
        {"dicomweb": {"url": "http://alice:s3cret-pw@pacs:8042/dicom-web"}}]}]}
    with pytest.raises(BadInput) as info:
        load_spec(_write(tmp_path, doc))
    text = str(info.value)
    assert "carries credentials" in text and "username_env / password_env" in text
    assert "s3cret-pw" not in text and "alice" not in text


def test_scan_refuses_a_url_with_credentials_without_echoing_them(capsys):
    from cli.main import main

    assert main(["scan", "http://alice:s3cret-pw@127.0.0.1:1/dicom-web"]) == 2
    err = capsys.readouterr().err
    assert "carries credentials" in err and "s3cret-pw" not in err and "alice" not in err


def test_a_key_beside_the_store_is_flagged(tmp_path):
    beside = load_spec(_write(tmp_path, _minimal(
        tmp_path, privacy={"key_file": str(tmp_path / "lungscreen-data" / "pseudonym.key")})))
    assert beside.key_beside_store()  # <data_dir>/results.db and <data_dir>/pseudonym.key
    apart = load_spec(_write(tmp_path, _minimal(
        tmp_path, privacy={"key_file": str(tmp_path / "secrets" / "pseudonym.key")})))
    assert not apart.key_beside_store()
    remote = load_spec(_write(tmp_path, _minimal(tmp_path, store="postgresql://u@db/x")))
    assert not remote.key_beside_store()


def test_a_key_left_in_the_data_folder_by_an_earlier_version_is_still_used(tmp_path):
    legacy = tmp_path / "lungscreen-data" / "pseudonym.key"
    legacy.parent.mkdir()
    legacy.write_bytes(b"k" * 32)
    spec = load_spec(_write(tmp_path, _minimal(tmp_path)), state_dir=tmp_path / "state")
    assert spec.key_path == legacy and spec.key_beside_store()  # and so warned about


def test_the_saved_spec_names_the_key_it_ran_with(tmp_path):
    from jobs.spec.registry import SpecRegistry

    spec = load_spec(_write(tmp_path, _minimal(tmp_path)), state_dir=tmp_path / "state")
    SpecRegistry(tmp_path / "registry").save(spec)
    again = SpecRegistry(tmp_path / "registry").load(spec.id)  # the session's state folder
    assert again.key_path == tmp_path / "state" / "pseudonym.key"
