"""`lungscreen --version` answers without loading the command modules and the campaign stack
(Ray, torch, numpy, the store): the console script's own start-up is Python's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from cli.entry import main
sys.argv = ["lungscreen", "--version"]
code = main()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               {"jobs", "ray", "torch", "numpy", "sqlalchemy", "cli"} and m not in
               {"cli", "cli.entry"})
print("HEAVY", heavy, code)
"""


def test_version_answers_before_the_command_modules_load():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert out.startswith("lungscreen ")
    assert out.rstrip().endswith("HEAVY [] 0"), out


def test_the_console_script_is_the_fast_entry():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'lungscreen = "cli.entry:main"' in text
