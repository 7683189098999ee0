"""`lungscreen model evaluate-rounds` as a user runs it: the shipped detector over a small
two-round cohort, registered and measured side by side, and its `--cache` of the detector's
findings (read back when its key matches, ignored when the detector changed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth.cohort import write_cohort, write_follow_up
from tests.campaign_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rounds")
    write_cohort(root / "r1", studies=4, regions=1, seed=22, workers=2)
    write_follow_up(root / "r2", root / "r1", months=12, seed=23, workers=2,
                    unavailable_share=0.0, missing_share=0.0, new_share=0.0)
    return root / "r1", root / "r2"


def _evaluate(rounds: tuple[Path, Path], out: Path, *extra: str) -> dict:
    done = run_cli(["model", "evaluate-rounds", str(rounds[0]), str(rounds[1]), "--register",
                    "--device", "cpu", "--out", str(out), *extra], timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "registered, measured side by side" in done.stdout
    return json.loads(out.read_text())


def test_the_cache_is_read_back_under_its_key_and_ignored_under_another(
        rounds: tuple[Path, Path], tmp_path: Path) -> None:
    cache = tmp_path / "findings.json"
    first = _evaluate(rounds, tmp_path / "a.json", "--cache", str(cache))
    assert first["studies"] == {"round_1": 4, "round_2": 4}
    assert first["matched"]["of"] > 0  # the detector found nodules in both rounds
    doc = json.loads(cache.read_text())
    assert len(doc["studies"]) == 8 and "/" in doc["key"]

    # read back: a cache saying "nothing found anywhere" is what the figures then show
    emptied = {"key": doc["key"], "studies": {uid: [] for uid in doc["studies"]}}
    cache.write_text(json.dumps(emptied))
    read = _evaluate(rounds, tmp_path / "b.json", "--cache", str(cache))
    assert read["matched"]["of"] == 0 and read["growth_precision"]["of"] == 0

    # another detector (its version or code): the cache is not trusted, the detector runs
    cache.write_text(json.dumps({**emptied, "key": "another-detector/0"}))
    again = _evaluate(rounds, tmp_path / "c.json", "--cache", str(cache))
    assert {k: again[k] for k in ("matched", "growth_sensitivity", "agreement")} == \
        {k: first[k] for k in ("matched", "growth_sensitivity", "agreement")}
    assert json.loads(cache.read_text())["key"] == doc["key"]
