"""DICOM reading for ingest: slim headers without pixel data, and slice geometry.

pydicom logs offending element values (which can be names, ids or dates) at WARNING when it
meets malformed data. Ingest reports bad files through reasons instead, so pydicom's logger
is limited to CRITICAL here, once, for every process that reads DICOM through lungscreen.
"""

import logging

logging.getLogger("pydicom").setLevel(logging.CRITICAL)

__all__: list[str] = []
