"""DICOM reading for ingest: slim headers without pixel data, and slice geometry.

pydicom reports a malformed value (a PatientBirthDate that is not a date, a name too long)
by a warning and a log line that quote the value: PHI on stderr. Ingest reports bad files
through reasons instead, so, once for every process that reads DICOM through lungscreen,
pydicom does not validate values on reading (they are checked where they are used) and its
logger is limited to CRITICAL.
"""

import logging

from pydicom import config as _pydicom_config

_pydicom_config.settings.reading_validation_mode = _pydicom_config.IGNORE
logging.getLogger("pydicom").setLevel(logging.CRITICAL)

__all__: list[str] = []
