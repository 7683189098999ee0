"""Finding the prior screens' pixels, where the prior campaigns' sources still hold them.

A prior screen's study is looked for in the sources its own campaign read (its saved spec,
jobs.spec.registry), in the regions the current campaign also has: discovered, pseudonymised
under the same key and selected as a campaign does. Found, the worker registers the two
volumes (jobs.rounds.registration) and matches nodules in the current scan's mm; not found
(the archive let it go, the spec is not at hand), matching uses the lung-relative frame. This
reads the prior sources' headers once per run of a campaign with priors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from jobs.ingest.discovery import discover
from jobs.ingest.intake import study_fields
from jobs.ingest.privacy import Pseudonymizer
from jobs.ingest.selection import Selected, select_series
from jobs.ingest.sources.factory import region_sources
from jobs.spec.campaign_spec import CampaignSpec
from kernel.rounds import PriorScreen

__all__ = ["locate_prior_pixels"]

log = logging.getLogger("jobs")


def locate_prior_pixels(prior_specs: Sequence[CampaignSpec], regions: Sequence[str],
                        priors: Mapping[str, PriorScreen], pseudonymizer: Pseudonymizer,
                        env: Mapping[str, str]) -> dict[str, Selected]:
    """Current study pseudonym -> the selected series of its prior screen, for the priors
    (`priors`: current study pseudonym -> PriorScreen) found in `prior_specs`' sources of
    `regions`."""
    wanted: dict[str, list[str]] = {}
    for study_pid, prior in priors.items():
        wanted.setdefault(prior.study_pid, []).append(study_pid)
    found: dict[str, Selected] = {}
    for spec in prior_specs:
        for region in spec.regions:
            if region.name not in regions:
                continue
            for study in discover(region_sources(region, env)):
                # the study pseudonym as minimise makes it, before any series is selected
                patient_id = (study_fields(study, None).patient_id or "").strip()
                currents = wanted.get(pseudonymizer.study(patient_id, study.study_uid), ())
                decision = select_series(study) if currents else None
                if isinstance(decision, Selected):
                    for current in currents:
                        found.setdefault(current, decision)
    log.info("priors: %d of %d prior screens found in their sources for registration",
             len(found), len(priors))
    return found
