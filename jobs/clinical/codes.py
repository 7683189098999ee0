"""The coded concepts a screened study's result is reported in, shared by the DICOM SR
(jobs.clinical.sr) and the FHIR bundle (jobs.clinical.fhir), so that a nodule's size, type
and change read the same in both.

Standard codes where they exist (SNOMED CT, DICOM, UCUM); the private scheme `99LSCR`
(lungscreen) for what has none.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept

from kernel.contract import NoduleType
from kernel.followup import Change

__all__ = ["CHANGE", "CHANGES", "CT_CHEST", "DIAMETER", "LUNG", "LUNG_RADS", "MM", "NODULE",
           "NODULE_TYPE", "NODULE_TYPES", "PRIOR_DIAMETER", "PRIOR_SOLID_DIAMETER",
           "PROBABILITY", "SCHEME", "SOLID_DIAMETER", "UNITLESS", "category_code"]

SCHEME = "99LSCR"
MM = CodedConcept("mm", "UCUM", "millimeter")
UNITLESS = CodedConcept("1", "UCUM", "no units")
LUNG_RADS = CodedConcept("LUNGRADS", SCHEME, "Lung-RADS v2022 category")
NODULE_TYPE = CodedConcept("NODTYPE", SCHEME, "Nodule type")
SOLID_DIAMETER = CodedConcept("SOLIDDIAM", SCHEME, "Solid component diameter")
PROBABILITY = CodedConcept("DETPROB", SCHEME, "Detection probability")
CHANGE = CodedConcept("CHANGE", SCHEME, "Change since prior screen")
PRIOR_DIAMETER = CodedConcept("PRIORDIAM", SCHEME, "Diameter on prior screen")
PRIOR_SOLID_DIAMETER = CodedConcept("PRIORSOLID", SCHEME,
                                    "Solid component diameter on prior screen")
NODULE_TYPES = {NoduleType.SOLID: CodedConcept("SOLID", SCHEME, "Solid"),
                NoduleType.PART_SOLID: CodedConcept("PARTSOLID", SCHEME, "Part-solid"),
                NoduleType.GROUND_GLASS: CodedConcept("GGN", SCHEME, "Ground-glass")}
CHANGES = {Change.BASELINE: CodedConcept("121079", "DCM", "Baseline"),
           Change.NEW: CodedConcept("NEW", SCHEME, "New"),
           Change.GROWN: CodedConcept("15454001", "SCT", "Increased size"),
           Change.STABLE: CodedConcept("260388006", "SCT", "No change"),
           Change.SMALLER: CodedConcept("19776001", "SCT", "Decreased size"),
           Change.RESOLVED: CodedConcept("RESOLVED", SCHEME, "Resolved")}
DIAMETER = CodedConcept("81827009", "SCT", "Diameter")
NODULE = CodedConcept("27925004", "SCT", "Nodule")
LUNG = CodedConcept("39607008", "SCT", "Lung")
CT_CHEST = CodedConcept("169069000", "SCT", "CT of chest")


def category_code(value: str) -> CodedConcept:
    """The coded value of Lung-RADS category `value` ("1".."4X")."""
    return CodedConcept(f"LR-{value}", SCHEME, f"Lung-RADS {value}")
