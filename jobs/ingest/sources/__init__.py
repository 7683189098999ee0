"""Study sources: where DICOM comes from (a folder tree, a DICOMweb archive)."""

__all__: list[str] = []
