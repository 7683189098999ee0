"""Study sources: where DICOM comes from (a folder tree, a DICOMweb archive, generated
load-test studies), and the one factory that opens a spec's entry or what a user types
(`lungscreen scan`)."""

from jobs.ingest.sources.base import Source
from jobs.ingest.sources.factory import (
    PASSWORD_ENV,
    USER_ENV,
    open_source,
    source_spec_from_text,
)
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.sources.synthetic import SyntheticSource

__all__ = [
    "PASSWORD_ENV",
    "USER_ENV",
    "FolderSource",
    "Source",
    "SyntheticSource",
    "open_source",
    "source_spec_from_text",
]
