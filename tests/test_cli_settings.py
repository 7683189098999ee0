"""The store (and server) the CLI uses when no flag names it: flag, then LUNGSCREEN_STORE,
then `store` in <state folder>/config.toml, then the command's own default; a password in a
store URL is refused from each of them, never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from cli.settings import load_settings
from jobs.store import ResultsStore, TokenKey
from kernel.errors import BadInput
from kernel.roles import Role

SECRET = "hunter2-s3cret"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LUNGSCREEN_STORE", "LUNGSCREEN_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    return tmp_path / "state"


def _config(state: Path, text: str) -> None:
    (state / "config.toml").write_text(text, encoding="utf-8")


def test_flag_then_environment_then_config_file(state: Path) -> None:
    env = {"LUNGSCREEN_STATE_DIR": str(state)}
    assert load_settings(env).store is None and load_settings(env).server is None
    _config(state, 'store = "sqlite:///from-file.db"\nserver = "https://svc.example"\n')
    got = load_settings(env)
    assert (got.store, got.server) == ("sqlite:///from-file.db", "https://svc.example")
    assert str(state / "config.toml") in got.store_from
    env |= {"LUNGSCREEN_STORE": "sqlite:///from-env.db", "LUNGSCREEN_SERVER": "https://b"}
    got = load_settings(env)
    assert (got.store, got.server) == ("sqlite:///from-env.db", "https://b")
    assert got.store_from == "LUNGSCREEN_STORE"
    assert got.store_or("sqlite:///flag.db") == "sqlite:///flag.db"
    assert got.server_or(None) == "https://b"


@pytest.mark.parametrize("text,expected", [
    ("store = ", "not valid TOML"),
    ('stor = "sqlite:///x.db"', "unknown key 'stor'"),
    ("store = 3", "store must be a non-empty string"),
])
def test_a_bad_config_file_is_refused_with_its_path(state: Path, text: str,
                                                    expected: str) -> None:
    _config(state, text)
    with pytest.raises(BadInput, match=expected) as info:
        load_settings({"LUNGSCREEN_STATE_DIR": str(state)})
    assert str(state / "config.toml") in str(info.value)


@pytest.mark.parametrize("where", ["env", "file"])
def test_a_password_is_refused_from_the_environment_and_the_file(
        state: Path, where: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    url = f"postgresql://alice:{SECRET}@db.example/screening"
    if where == "env":
        monkeypatch.setenv("LUNGSCREEN_STORE", url)
    else:
        _config(state, f'store = "{url}"\n')
    assert main(["token", "list"]) == 2
    err = capsys.readouterr().err
    assert "carries a password" in err and "PGPASSWORD" in err and SECRET not in err
    assert ("LUNGSCREEN_STORE" if where == "env" else "config.toml") in err


def _store_with(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    with ResultsStore.open(url) as store:
        store.create_token(name, Role.OPS, key=TokenKey.load(tmp_path / "state", create=True))
    return url


def test_token_list_finds_its_store_by_precedence(state: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys) -> None:
    flag, env, file = (_store_with(tmp_path, n) for n in ("flag", "env", "file"))

    def listed(*argv: str) -> str:
        assert main(["token", "list", "--json", *argv]) == 0
        return capsys.readouterr().out

    assert main(["token", "list"]) == 2
    err = capsys.readouterr().err
    assert "--store URL" in err and "LUNGSCREEN_STORE" in err and "config.toml" in err
    _config(state, f'store = "{file}"\n')
    assert '"file"' in listed()
    monkeypatch.setenv("LUNGSCREEN_STORE", env)
    assert '"env"' in listed()
    assert '"flag"' in listed("--store", flag)


def test_audit_show_and_serve_take_the_configured_store(state: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys) -> None:
    monkeypatch.setenv("LUNGSCREEN_STORE", _store_with(tmp_path, "env"))
    assert main(["audit", "show"]) == 0
    assert main(["serve", "--port", "0", "--min-cell-floor", "2"]) == 2  # got past the store
    assert "--min-cell-floor 2 is below" in capsys.readouterr().err


def test_report_reads_the_configured_store(state: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from tests.report_results import cohort

    url = f"sqlite:///{tmp_path / 'r.db'}"
    with ResultsStore.open(url) as store:
        store.ensure_campaign("c-1", spec_digest="d", model_name="m", model_version="1")
        store.commit_results("c-1", cohort(40, seed=1))
    monkeypatch.setenv("LUNGSCREEN_STORE", url)
    assert main(["report", "c-1", "--format", "json"]) == 0
    assert '"min_cell": 11' in capsys.readouterr().out  # no spec here: the deployment floor
