"""`lungscreen demo` end to end (a smaller cohort than the default): synthesises, starts
the bundled Triton and local Ray, runs the campaign, prints the regional summary and writes
the HTML report; a second demo finds the campaign complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign_helpers import needs_weights, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow, needs_weights]


def test_demo_runs_a_campaign_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {"LUNGSCREEN_STATE_DIR": str(tmp_path / "state")}
    args = ["demo", "--out", str(out), "--studies", "6", "--regions", "2", "--num-cpus", "2"]
    first = run_cli(args, env=env, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "campaign demo done" in first.stdout
    html = out / "report.html"
    assert f"HTML report: {html.resolve()}" in first.stdout
    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    # the summary names every region of the cohort
    for region in sorted(p.name for p in (out / "cohort" / "dicom").iterdir()):
        assert region in first.stdout

    again = run_cli(args, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to do" in again.stdout
