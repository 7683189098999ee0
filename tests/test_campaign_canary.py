"""PHI canaries through a whole campaign: a synthetic cohort with a unique token in every
PHI field is screened on real Ray through the CLI with the metrics exporter on; then the
store, every file the campaign wrote, the CLI's output and logs, every report format,
`lungscreen status` and every metrics scrape taken while it ran must hold none of them."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
import requests

from tests.campaign_helpers import (
    free_port,
    outcome_counts,
    run_cli,
    start_cli,
    stop_process_group,
    write_spec,
)
from tests.cohorts import build_cohort

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]


def test_no_canary_reaches_store_logs_reports_or_metrics(tmp_path: Path) -> None:
    cohort = build_cohort(studies=4, regions=2, seed=5, profile="small", defects=True,
                          defect_share=0.5, canary=True)  # fmt: skip
    planted = json.loads((cohort.root / "canaries.json").read_text())
    canaries = sorted({str(v) for study in planted for v in study["fields"].values() if v})
    # birth dates in the ISO form results keep exam days in too (exam days are shifted, so
    # one may by chance equal another study's real day: tests/test_rounds_campaign.py checks
    # each study's own)
    canaries += sorted({f"{v[:4]}-{v[4:6]}-{v[6:]}" for study in planted
                        for k, v in study["fields"].items() if k == "PatientBirthDate" and v})
    assert len(canaries) > 4 * 10
    regions = sorted(p for p in cohort.dicom.iterdir() if p.is_dir())
    data, state = tmp_path / "data", tmp_path / "state"
    spec = write_spec(tmp_path / "canary.yaml", {r.name: [r] for r in regions},
                      campaign_id="canary-campaign", data_dir=str(data), shard_size=1)
    env = {"LUNGSCREEN_STATE_DIR": str(state)}
    port = free_port()
    sinks: dict[str, str] = {}

    # -v: DEBUG logs are a sink too
    proc = start_cli(["-v", "campaign", "run", str(spec), "--backend", "inprocess",
                      "--metrics-port", str(port), "--num-cpus", "2"], env=env)
    scrapes: list[str] = []
    try:
        deadline = time.monotonic() + 900
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the campaign did not finish"
            with contextlib.suppress(requests.RequestException):
                scrapes.append(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text)
            time.sleep(0.5)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            stop_process_group(proc)
    assert proc.returncode == 0, err[-3000:]
    assert scrapes, "the exporter was never scraped"
    sinks["campaign stdout"], sinks["campaign stderr (logs)"] = out, err
    sinks["metrics"] = "\n".join(scrapes)
    counts = outcome_counts(f"sqlite:///{data}/results.db", "canary-campaign")
    assert sum(counts.values()) == 4 and counts["screened"] >= 1, counts

    for fmt in ("table", "csv", "json", "html"):
        report = run_cli(["report", "canary-campaign", "--spec", str(spec), "--format", fmt,
                          "--min-cell", "11"], env=env)
        assert report.returncode == 0, report.stderr[-2000:]
        sinks[f"report {fmt}"] = report.stdout + report.stderr
    status = run_cli(["status", "canary-campaign", "--once", "--json"], env=env)
    sinks["status"] = status.stdout + status.stderr

    for root in (data, state):
        for path in root.rglob("*"):
            if path.is_file():
                sinks[str(path.relative_to(tmp_path))] = path.read_bytes().decode("latin-1")
    assert any(name.endswith("results.db") for name in sinks)

    leaks = [(canary, where) for canary in canaries for where, text in sinks.items()
             if canary in text]
    assert not leaks, f"PHI canaries found: {leaks[:10]}"
