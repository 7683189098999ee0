"""A campaign's intake: discover every region's studies, select a series, minimise.

This is where PHI stops. What comes out:
- `records`: one PHI-free StudyRecord per screenable study (by study pseudonym);
- `locators`: the selected series of each (file references; driver memory and task
  arguments only, never stored or logged);
- `early`: the results of studies settled before any pixel is read: opted out, or
  quarantined by series selection.
Discovery is deterministic, so a resumed campaign re-runs intake and plans the same shards.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.ingest.discovery import DiscoveredStudy, FileOutcome, discover
from jobs.ingest.privacy import OptOutList, Pseudonymizer, StudyFields, minimise, unscreened_result
from jobs.ingest.selection import Quarantined, Selected, select_series
from jobs.ingest.sources.factory import region_sources
from jobs.spec.campaign_spec import CampaignSpec
from kernel.errors import BadInput
from kernel.reasons import Reason
from kernel.records import StudyRecord, StudyResult

__all__ = ["Intake", "study_fields", "take_in"]

log = logging.getLogger("jobs")


@dataclass
class Intake:
    """What intake found (see the module doc). Holds locators: keep it in memory only."""

    records: dict[str, StudyRecord] = field(default_factory=dict)
    locators: dict[str, Selected] = field(default_factory=dict, repr=False)
    early: list[StudyResult] = field(default_factory=list)
    files_rejected: Counter[str] = field(default_factory=Counter)
    studies_by_region: Counter[str] = field(default_factory=Counter)


def study_fields(study: DiscoveredStudy, selected: Selected | None) -> StudyFields:
    """The header fields minimisation reads, from a discovered study and its selection."""
    first = study.first_header
    return StudyFields(
        patient_id=first.patient_id if first else None,
        study_uid=study.study_uid,
        institution=first.institution if first else None,
        patient_age=first.patient_age if first else None,
        birth_date=first.patient_birth_date if first else None,
        study_date=first.study_date if first else None,
        time_point=first.time_point if first else None,
        sex=first.patient_sex if first else None,
        slice_count=selected.slice_count if selected else 0,
        spacing=selected.spacing if selected else (0.0, 0.0, 0.0),
    )


def take_in(
    spec: CampaignSpec, pseudonymizer: Pseudonymizer, opt_out: OptOutList,
    env: Mapping[str, str],
) -> Intake:
    """Discover, select and minimise every study of every region of `spec`."""
    intake = Intake()
    model = {"model_name": spec.model.name, "model_version": spec.model.version}

    def count_file(outcome: FileOutcome) -> None:
        if outcome.reason is not None:
            intake.files_rejected[outcome.reason.value] += 1

    seen: set[str] = set()
    for region in spec.regions:
        sites = region.site_of()
        for study in discover(region_sources(region, env), on_file=count_file):
            decision = select_series(study)
            selected = decision if isinstance(decision, Selected) else None
            header = study_fields(study, selected)
            record = minimise(header, region=region.name, pseudonymizer=pseudonymizer,
                              sites=sites)
            pid = record.study_pid
            if pid in seen:
                continue  # the same study seen twice (another region's source): once only
            seen.add(pid)
            intake.studies_by_region[region.name] += 1
            if opt_out.is_opted_out(header.patient_id):
                intake.early.append(unscreened_result(record, Reason.OPTED_OUT, **model))
            elif isinstance(decision, Quarantined):
                intake.early.append(unscreened_result(record, decision.reason, **model))
            else:
                assert selected is not None
                intake.records[pid] = record
                intake.locators[pid] = selected
    if not intake.studies_by_region:
        where = "; ".join(f"{r.name}: {', '.join(s.label for s in r.sources) or 'no sources'}"
                          for r in spec.regions)
        rejected = sum(intake.files_rejected.values())
        raise BadInput(
            f"campaign {spec.id}: 0 studies found in its sources ({where}; {rejected} files "
            "rejected); check that the folders or archives the spec names hold the DICOM "
            "studies (`lungscreen scan SOURCE` lists what a source holds)"
        )
    log.info(
        "intake: %d studies (%d to screen, %d settled early), %d files rejected",
        sum(intake.studies_by_region.values()), len(intake.records), len(intake.early),
        sum(intake.files_rejected.values()),
    )
    return intake
