"""Commands that only read a store never create one: a URL that names no store is refused
(exit 2, the URL and how to create it), with no file, folder or table left behind;
`lungscreen store init` creates one explicitly."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from cli.main import main
from jobs.store import AuditKey, ResultsStore
from kernel.errors import BadInput

HINT = "create it with `lungscreen campaign run` or `lungscreen store init`"

READS = [
    ["token", "list"],
    ["report", "demo"],
    ["report", "demo", "--released"],
    ["status", "--once"],
    ["audit", "show"],
    ["audit", "verify"],
    ["release", "measure", "demo"],
]


@pytest.mark.parametrize("words", READS, ids=" ".join)
def test_a_read_of_a_missing_sqlite_store_creates_nothing(words, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setenv("LUNGSCREEN_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state").mkdir(mode=0o700)
    AuditKey.load(tmp_path / "state", create=True)  # audit verify needs one first
    typo = tmp_path / "typo.db"
    assert main([*words, "--store", f"sqlite:///{typo}"]) == 2
    err = capsys.readouterr().err
    assert f"no results store at 'sqlite:///{typo}'" in err and HINT in err
    assert not typo.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_a_missing_folder_is_not_created(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x' / 'nope' / 'results.db'}"
    assert main(["report", "demo", "--store", url]) == 2
    assert HINT in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_store_init_creates_then_reads_work(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new' / 'results.db'}"
    assert main(["store", "init", "--store", url]) == 0
    assert "results store ready at" in capsys.readouterr().out
    assert main(["token", "list", "--store", url]) == 0
    assert "NAME" in capsys.readouterr().out
    assert main(["store", "init", "--store", url]) == 0  # again: nothing to do


def test_a_database_without_lungscreen_tables_is_refused_unchanged(tmp_path):
    path = tmp_path / "other.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    with pytest.raises(BadInput, match="holds no lungscreen tables"):
        ResultsStore.open(f"sqlite:///{path}", create=False)
    assert inspect(engine).get_table_names() == ["unrelated"]
    engine.dispose()


def test_a_half_made_store_is_refused_with_the_migration(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ResultsStore.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE tokens"))
    engine.dispose()
    with pytest.raises(BadInput, match=r"lacks tokens.*lungscreen store init"):
        ResultsStore.open(url, create=False)
    ResultsStore.open(url).close()  # a writer (or store init) migrates it
    ResultsStore.open(url, create=False).close()


@pytest.mark.integration
def test_a_postgresql_read_runs_no_ddl(postgres_url, postgres_server, capsys):
    engine = create_engine(postgres_url)
    with pytest.raises(BadInput, match="holds no lungscreen tables"):
        ResultsStore.open(postgres_url, create=False)
    assert main(["token", "list", "--store", postgres_url]) == 2
    err = capsys.readouterr().err
    assert HINT in err and postgres_url.removeprefix("postgresql+psycopg") in err
    assert inspect(engine).get_table_names() == []
    missing = postgres_server.url("no_such_database")
    assert main(["token", "list", "--store", missing]) == 2
    assert "the database does not exist" in capsys.readouterr().err
    assert main(["store", "init", "--store", postgres_url]) == 0
    assert "tokens" in inspect(engine).get_table_names()
    assert main(["token", "list", "--store", postgres_url]) == 0
    engine.dispose()
