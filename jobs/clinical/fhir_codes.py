"""The FHIR codings of the register bundle (jobs.clinical.fhir) beyond the vocabulary it shares
with the SR (jobs.clinical.codes), each with where it comes from.
"""

from __future__ import annotations

from fhir.resources.R4B.coding import Coding
from highdicom.sr import CodedConcept

from jobs.clinical.codes import SCHEME
from kernel.contract import NoduleType

__all__ = ["CATEGORY_OBSERVATION", "CENTRE", "FRAME", "IMAGING", "MEAN_DIAMETER",
           "NODULE_OF_LUNG", "PRIVATE_SYSTEM", "RADIOLOGY", "SCREENING_CT", "SYSTEMS",
           "category_value", "coding", "nodule_type"]

PRIVATE_SYSTEM = f"urn:lungscreen:{SCHEME}"  # the private scheme `99LSCR` as a FHIR system
SNOMED = "http://snomed.info/sct"
SYSTEMS = {"SCT": SNOMED, "DCM": "http://dicom.nema.org/resources/ontology/DCM",
           "UCUM": "http://unitsofmeasure.org", SCHEME: PRIVATE_SYSTEM}
# HL7LT ig-lt-lung (the Lithuanian lung-screening IG): its code systems for what SNOMED CT
# has no code for; its value sets bind them as required
_LT = "https://tx.hl7.lt/fhir/CodeSystem/"

# LOINC 79086-5 "CT Chest for screening WO contrast" (short name "CT Chest Screening WO
# contr"): the screening LDCT itself; 87279-6 "CT Chest Screening" leaves the contrast open,
# 29252-4 "CT Chest WO contrast" the purpose
SCREENING_CT = Coding(system="http://loinc.org", code="79086-5",
                      display="CT Chest for screening WO contrast")
RADIOLOGY = Coding(system="http://terminology.hl7.org/CodeSystem/v2-0074", code="RAD",
                   display="Radiology")
IMAGING = Coding(system="http://terminology.hl7.org/CodeSystem/observation-category",
                 code="imaging", display="Imaging")
# ig-lt-lung LungRadsAssessmentLtLung: the observable "Lung-RADS category"
CATEGORY_OBSERVATION = Coding(system=SNOMED, code="1362105002",
                              display="Lung Imaging Reporting and Data System category")
# ig-lt-lung PulmonaryNoduleObservationLtLung: one observation per nodule, this code, its
# type as the value and its mean diameter as a component coded "Mean"
NODULE_OF_LUNG = Coding(system=SNOMED, code="786838002", display="Nodule of lung")
MEAN_DIAMETER = Coding(system=SNOMED, code="255586005", display="Mean")
_TYPES = {NoduleType.SOLID: Coding(system=SNOMED, code="35702001", display="Solid"),
          NoduleType.GROUND_GLASS: Coding(system=SNOMED, code="1217294009",
                                          display="Ground glass lung opacity"),
          NoduleType.PART_SOLID: Coding(system=f"{_LT}pulmonary-nodule-type-local",
                                        code="part-solid", display="Part-solid")}
# a nodule's centre: patient coordinates (LPS, mm) in the selected series' frame of reference
CENTRE = tuple(Coding(system=PRIVATE_SYSTEM, code=f"CENTRE{axis.upper()}",
                      display=f"Centre {axis} (patient LPS)") for axis in "xyz")
FRAME = Coding(system=PRIVATE_SYSTEM, code="FRAMEUID", display="Frame of reference of the centre")


def category_value(value: str) -> Coding:
    """Lung-RADS category `value` ("0".."4X") in ig-lt-lung's category code system."""
    return Coding(system=f"{_LT}lung-rads-category", code=value)


def nodule_type(kind: NoduleType) -> tuple[Coding, ...]:
    """The codes of a nodule type in ig-lt-lung's value set (SNOMED CT where it has one)."""
    return (_TYPES[kind],)


def coding(c: CodedConcept) -> Coding:
    """A shared concept (jobs.clinical.codes) as a FHIR coding."""
    return Coding(system=SYSTEMS[c.scheme_designator], code=c.value, display=c.meaning)
