"""DICOM reading for ingest: slim headers without pixel data, and slice geometry."""
