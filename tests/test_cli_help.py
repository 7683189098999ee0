"""The command line as users of kubectl and git expect: every option explained, examples in
every command's help, `--version`, and `-v` before or after the command's name."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator

import pytest

from cli.examples import EXAMPLES
from cli.main import build_parser, main


def _leaves(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
            ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield words, parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, (*words, name))


LEAVES = dict(_leaves(build_parser()))


def test_every_argument_of_every_command_is_explained():
    bare = [f"{' '.join(w)} {a.option_strings or a.dest}" for w, p in LEAVES.items()
            for a in p._actions if not isinstance(a, argparse._HelpAction) and not a.help]
    assert bare == []


def test_every_command_shows_examples_and_each_example_parses():
    assert sorted(" ".join(w) for w in LEAVES) == sorted(EXAMPLES)
    for words, parser in LEAVES.items():
        assert parser.format_help().rstrip().split("examples:")[1].strip()
        for line in EXAMPLES[" ".join(words)]:
            argv = shlex.split(line, comments=True)
            assert argv[0] == "lungscreen" and argv[1:len(words) + 1] == list(words), line
            build_parser().parse_args(argv[1:])  # SystemExit on a wrong example


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("lungscreen ")


@pytest.mark.parametrize("argv", [["-v", "report", "x"], ["report", "x", "-v"],
                                  ["report", "-v", "x"], ["campaign", "cancel", "x", "-v"]])
def test_verbose_before_or_after_the_command(argv):
    assert build_parser().parse_args(argv).verbose is True


def test_quiet_by_default():
    assert build_parser().parse_args(["report", "x"]).verbose is False


def test_every_command_that_prints_results_takes_format_and_json_is_its_short_form():
    for words, parser in LEAVES.items():
        if words == ("export",):  # --format picks the files written to --out, nothing printed
            continue
        flags = {s for a in parser._actions for s in a.option_strings}
        if "--json" in flags or "--format" in flags:
            assert {"--json", "--format"} <= flags, words
            argv = [*words, *(["x"] if words in (("report",), ("review",), ("campaign", "status"))
                              else [])]
            if words == ("scan",):
                argv.append("folder")
            assert build_parser().parse_args([*argv, "--json"]).format == "json"
