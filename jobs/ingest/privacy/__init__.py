"""Privacy at ingest: the deployment key, keyed pseudonyms, age bands, minimisation to
`StudyRecord`, and the opt-out list. Nothing past `minimise` holds PHI."""

from jobs.ingest.privacy.age import age_band, age_from_header
from jobs.ingest.privacy.keys import load_or_create_key
from jobs.ingest.privacy.minimise import StudyFields, StudyHeader, minimise, unscreened_result
from jobs.ingest.privacy.optout import OptOutList
from jobs.ingest.privacy.pseudonyms import Pseudonymizer
from jobs.ingest.privacy.seal import LocatorSeal, SealedSelection

__all__ = [
    "LocatorSeal",
    "OptOutList",
    "Pseudonymizer",
    "SealedSelection",
    "StudyFields",
    "StudyHeader",
    "age_band",
    "age_from_header",
    "load_or_create_key",
    "minimise",
    "unscreened_result",
]
