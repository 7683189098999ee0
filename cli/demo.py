"""`lungscreen demo`: the whole system on embedded defaults, in a few minutes.

1. synthesise a small multi-region cohort, with some defective studies, into `out/cohort`
   (kept: a second demo reuses it);
2. write the campaign spec `out/campaign.yaml` (SQLite store and pseudonym key under
   `out/lungscreen-data`);
3. run the campaign: the bundled local Triton, local Ray, a live progress bar;
4. print the regional summary (suppressed) and write the self-contained HTML report.

Running it again finds the campaign complete and prints the summary again. The demo's data
are synthetic and few, so its summary is not suppressed (`min_cell` 1, not the production
default 11, which would hide every cell of a dozen studies); say `--min-cell 11` to see
production suppression at work.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from jobs.run.campaign import CampaignRun, RunOptions, run_campaign
from jobs.spec.campaign import CampaignSpec, load_spec
from jobs.spec.registry import SpecRegistry
from jobs.spec.secrets import open_spec_store
from jobs.store import ResultsStore
from kernel.observer import CampaignObserver

__all__ = ["DemoOptions", "DemoResult", "run_demo"]

log = logging.getLogger("jobs")

DEMO_ID = "demo"


@dataclass(frozen=True)
class DemoOptions:
    """The demo's knobs; the defaults finish in a few minutes on two cores."""

    out: Path = Path("lungscreen-demo")
    studies: int = 12
    regions: int = 3
    seed: int = 2027
    profile: str = "small"
    min_cell: int = 1
    backend: Literal["auto", "inprocess"] = "auto"
    num_cpus: int | None = None
    observers: Sequence[CampaignObserver] = field(default_factory=tuple)
    state_dir: Path | None = None


@dataclass(frozen=True)
class DemoResult:
    run: CampaignRun
    summary: str
    html_path: Path
    spec_path: Path


def _cohort(options: DemoOptions) -> Path:
    from synth import write_cohort

    cohort = options.out / "cohort"
    marker = cohort / ".demo-complete"
    if not marker.exists():
        log.warning("synthesising %d studies in %d regions into %s", options.studies,
                    options.regions, cohort)
        write_cohort(cohort, studies=options.studies, regions=options.regions,
                     seed=options.seed, profile=options.profile, defects=True)
        marker.write_text("ok\n", encoding="utf-8")
    return cohort


def _region_folders(cohort: Path) -> list[Path]:
    """The cohort's region folders (`dicom/<region>/`, named after the region)."""
    folders = sorted(p for p in (cohort / "dicom").iterdir()
                     if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise RuntimeError(f"the synthetic cohort in {cohort} has no region folder")
    return folders


def _spec(options: DemoOptions, cohort: Path) -> Path:
    path = options.out / "campaign.yaml"
    doc = {
        "id": DEMO_ID,
        "model": {"name": "lung_nodule_detector", "version": 1},
        "shard_size": 2,
        "max_shards_in_flight": 4,
        "residency": "none",
        # the key apart from the store's folder: a copy of one cannot re-identify the other
        "privacy": {"min_cell": options.min_cell, "key_file": "keys/pseudonym.key"},
        "regions": [
            {"name": folder.name, "sources": [{"folder": str(folder.relative_to(options.out))}]}
            for folder in _region_folders(cohort)
        ],
    }
    header = ("# Written by `lungscreen demo`: a campaign over the synthetic cohort beside it.\n"
              "# Run it yourself with: lungscreen campaign run campaign.yaml\n")
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def summarise(spec: CampaignSpec, store: ResultsStore, html_path: Path) -> str:
    """The regional summary table (suppressed); writes the HTML report to `html_path`."""
    # imported here: the report stack (scipy) is not loaded by every `lungscreen` call
    from jobs.report.build import campaign_report
    from jobs.report.formats import render

    report = campaign_report(store, spec.id, by=("region",), min_cell=spec.privacy.min_cell)
    html_path.write_text(render(report, "html"), encoding="utf-8")
    return render(report, "table")


def run_demo(options: DemoOptions) -> DemoResult:
    """Run the demo (see the module doc)."""
    options.out.mkdir(parents=True, exist_ok=True)
    cohort = _cohort(options)
    spec_path = _spec(options, cohort)
    spec = load_spec(spec_path)
    with open_spec_store(spec, os.environ) as store:
        run = run_campaign(
            spec,
            RunOptions(backend=options.backend, num_cpus=options.num_cpus,
                       observers=tuple(options.observers)),
            store,
            SpecRegistry(options.state_dir) if options.state_dir else None,
        )
        html_path = (options.out / "report.html").resolve()
        summary = summarise(spec, store, html_path)
    return DemoResult(run=run, summary=summary, html_path=html_path, spec_path=spec_path)
