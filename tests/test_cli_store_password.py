"""A password in a store URL is refused on every command line that takes `--store` (ps shows
it, the shell keeps it), before anything opens the store, with the remedy and never the
password; the commands are found by walking the parser, so a new one is covered too."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from cli.main import build_parser, main

SECRET = "hunter2-s3cret"


def _with_store(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
                ) -> Iterator[tuple[str, ...]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _with_store(child, (*words, name))
        elif "--store" in action.option_strings:
            yield words


COMMANDS = sorted(set(_with_store(build_parser())))


def test_the_commands_that_take_a_store_are_found() -> None:
    assert {("serve",), ("token", "create"), ("token", "list"), ("token", "revoke"),
            ("report",), ("status",), ("audit", "verify"), ("audit", "show"),
            ("release", "measure")} <= set(COMMANDS)


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("url", [f"postgresql://alice:{SECRET}@db.example:5432/screening",
                                 f"postgresql://alice@db.example/screening?password={SECRET}",
                                 f"postgresql://alice:{SECRET}@db.example:notaport/x"])
def test_a_password_in_a_store_url_is_refused(words: tuple[str, ...], url: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--store", url])  # refused as parsed: no required argument is asked
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert "carries a password" in err and "PGPASSWORD" in err
    assert "store_password_env" in err and SECRET not in err


def test_a_url_without_a_password_is_taken(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    assert main(["store", "init", "--store", url]) == 0
    assert main(["token", "list", "--store", url]) == 0
    assert "NAME" in capsys.readouterr().out
