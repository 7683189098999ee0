"""`lungscreen demo`: the whole system on embedded defaults, in a few minutes.

1. synthesise a small multi-region cohort, with some defective studies, into `out/cohort`
   (kept: a second demo reuses it);
2. write the campaign spec `out/campaign.yaml` (SQLite store and pseudonym key under
   `out/lungscreen-data`);
3. run the campaign: the bundled local Triton, local Ray, a live progress bar;
4. print the regional summary (suppressed) and write the self-contained HTML report.

Running it again finds the campaign complete and prints the summary again.

The demo's spec keeps the deployment's floor (`privacy.min_cell`, kernel.defaults.MIN_CELL), like
every campaign. Its data are synthetic and few, and the floor would hide every cell of a
dozen studies, so the summary alone is built under the `synthetic_demo_floor` override
(default 1): the one way below the floor, used by nothing but the demo, written to the
store's audit trail (event `synthetic_demo_floor`) and named in the demo's output. Give
`--synthetic-demo-floor` the floor or more to see production suppression at work (no override
then).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from jobs.run import CampaignRun, RunOptions, run_campaign
from jobs.spec import CampaignSpec, SpecRegistry, load_spec, open_spec_store
from jobs.store import ResultsStore
from kernel.defaults import MIN_CELL
from kernel.errors import BadInput
from kernel.observer import CampaignObserver
from synth import write_cohort
from synth.cohort import read_declared_sites

__all__ = ["DemoOptions", "DemoResult", "run_demo", "summarise"]

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
    # the summary's threshold over the synthetic cohort; below MIN_CELL it is an audited
    # override (see the module doc); None: the deployment's floor
    synthetic_demo_floor: int | None = 1
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
    cohort = options.out / "cohort"
    marker = cohort / ".demo-complete"
    if not marker.exists():
        log.warning("synthesising %d studies in %d regions into %s", options.studies,
                    options.regions, cohort)
        done = write_cohort(cohort, studies=options.studies, regions=options.regions,
                            seed=options.seed, profile=options.profile, defects=True)
        log.warning("synth: wrote %d studies, %d files, %.1f MB", done.studies, done.files,
                    done.bytes / 1e6)
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
    sites = read_declared_sites(cohort)
    doc = {
        "id": DEMO_ID,
        "model": {"name": "lung_nodule_detector", "version": 1},
        "shard_size": 2,
        "max_shards_in_flight": 4,
        "residency": "none",
        # the key apart from the store's folder: a copy of one cannot re-identify the other
        # min_cell left out: the deployment's floor (the demo's override is not the spec's)
        "privacy": {"key_file": "keys/pseudonym.key"},
        # sites are declared, never taken from the data (RegionSpec.sites)
        "regions": [
            {"name": folder.name, "sources": [{"folder": str(folder.relative_to(options.out))}],
             "sites": sites.get(folder.name, [])}
            for folder in _region_folders(cohort)
        ],
    }
    header = ("# Written by `lungscreen demo`: a campaign over the synthetic cohort beside it.\n"
              "# Run it yourself with: lungscreen campaign run campaign.yaml\n")
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def summarise(spec: CampaignSpec, store: ResultsStore, html_path: Path,
              synthetic_demo_floor: int | None = None) -> str:
    """The regional summary table (suppressed); writes the HTML report to `html_path`.

    At the spec's threshold, unless `synthetic_demo_floor` is given: below the deployment's
    floor, that override is first appended to the store's audit trail (the store must be
    opened with the audit key) and the summary opens with a line naming it."""
    # imported here: the report stack (scipy) is not loaded by every `lungscreen` call
    from jobs.report import campaign_report, render  # scipy: the summary only

    min_cell, notice = spec.privacy.min_cell, ""
    if synthetic_demo_floor is not None:
        if synthetic_demo_floor < 1:
            raise BadInput(f"synthetic_demo_floor {synthetic_demo_floor} is not valid; "
                           "expected 1 or more")
        min_cell = synthetic_demo_floor
    if min_cell < MIN_CELL:
        head = store.audit(spec.id, "synthetic_demo_floor", min_cell=min_cell, floor=MIN_CELL,
                           data="synthetic demo cohort")
        below = ("no count is suppressed" if min_cell <= 1 else
                 f"counts are suppressed below {min_cell}")
        notice = (f"synthetic demo: {below} (the synthetic_demo_floor override, audit event "
                  f"synthetic_demo_floor, seq {head.seq}); real campaigns suppress every "
                  f"count below the deployment's floor {MIN_CELL} and cannot go under it\n\n")
    report = campaign_report(store, spec.id, by=("region",), min_cell=min_cell)
    html_path.write_text(render(report, "html"), encoding="utf-8")
    return notice + render(report, "table")


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
        summary = summarise(spec, store, html_path, options.synthetic_demo_floor)
    return DemoResult(run=run, summary=summary, html_path=html_path, spec_path=spec_path)
