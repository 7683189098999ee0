"""Source kinds are one registry (jobs.spec.kinds): a new kind is its module plus one
registration line. Shown with a kind only these tests register: `memory`, datasets held in
a dict, that a spec names and a campaign's intake reads like any other source."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from jobs.ingest import take_in
from jobs.ingest.dicom.headers import FileRejection, SliceHeader, header_from_dataset
from jobs.ingest.privacy import OptOutList, Pseudonymizer
from jobs.run.worker import load_study
from jobs.spec import parse_spec
from jobs.spec.campaign_spec import spec_digest
from jobs.spec.kinds import SOURCE_KINDS, SourceKind, expected_sources, register_source_kind
from jobs.spec.sources import SpecModel
from kernel.errors import BadInput
from tests.dicom_builders import ct_slice

# -- the memory kind: its module would hold exactly this -------------------------------------

HELD: dict[str, list[Dataset]] = {}


class MemorySpec(SpecModel):
    """`{memory: {name: NAME}}`: the datasets held under NAME."""

    name: str


class MemorySource:
    """A Source over datasets in memory; locators are their indexes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.datasets = HELD[name]

    @property
    def label(self) -> str:
        return f"memory:{self.name}"

    def scan(self) -> Iterator[SliceHeader | FileRejection]:
        for i, ds in enumerate(self.datasets):
            yield header_from_dataset(ds, str(i), str(ds.file_meta.TransferSyntaxUID),
                                      has_pixel_data="PixelData" in ds)

    def read_instances(self, headers: Sequence[SliceHeader]) -> Iterator[tuple[int, Dataset]]:
        for i, h in enumerate(headers):
            yield i, self.datasets[int(h.locator)]


def _open_memory(spec: MemorySpec, env: Mapping[str, str], workers: int) -> MemorySource:
    return MemorySource(spec.name)


MEMORY = SourceKind(
    name="memory",
    model=MemorySpec,
    form="{memory: {name: NAME}}",
    label=lambda spec: f"memory:{spec.name}",
    key=lambda spec: spec.name,
    duplicate="{where}.memory.name: '{value}' is also {other_where}; expected each held "
              "set in one source only",
    open=_open_memory,
)

# -- the tests ----------------------------------------------------------------------------------

BUILT_IN_FORMS = ("{folder: PATH}, {dicomweb: {url: URL, username_env: VAR, password_env: VAR}}"
                  " or {synthetic: {studies: N, seed: S}}")


@pytest.fixture
def memory() -> Iterator[SourceKind]:
    with register_source_kind(MEMORY) as kind:  # the one registration line
        yield kind
    HELD.clear()


def _series(patient: str) -> list[Dataset]:
    study, series = generate_uid(), generate_uid()
    pixels = np.full((16, 16), 1024, dtype=np.uint16)
    return [ct_slice(study_uid=study, series_uid=series, z=z, pixels=pixels, instance=i + 1,
                     patient_id=patient)
            for i, z in enumerate(np.arange(0.0, 201.25, 1.25))]


def _doc(*sources: object) -> dict[str, object]:
    return {"id": "mem-1", "regions": [{"name": "north", "sources": list(sources)}]}


def test_the_built_in_kinds_are_registered_in_order():
    assert list(SOURCE_KINDS)[:3] == ["folder", "dicomweb", "synthetic"]
    assert "memory" not in SOURCE_KINDS
    assert expected_sources() == BUILT_IN_FORMS


def test_a_spec_names_a_registered_kind_and_intake_reads_it(memory, tmp_path: Path):
    HELD["north"] = _series("PID-1") + _series("PID-2")
    spec = parse_spec(_doc({"memory": {"name": "north"}}), base_dir=tmp_path,
                      state_dir=tmp_path)
    (source,) = spec.regions[0].sources
    assert source.kind == "memory" and source.memory == MemorySpec(name="north")
    assert source.folder is None and source.label == "memory:north"
    pseudonymizer = Pseudonymizer(b"k" * 32)
    intake = take_in(spec, pseudonymizer, OptOutList(pseudonymizer), env={})
    assert intake.studies_by_region == {"north": 2} and len(intake.records) == 2
    volume = load_study(next(iter(intake.locators.values())))
    assert volume.hu.shape == (161, 16, 16) and int(volume.hu[0, 0, 0]) == 0


def test_validation_and_the_duplicate_check_go_through_the_registry(memory, tmp_path: Path):
    with pytest.raises(BadInput) as bad:
        parse_spec(_doc({"memory": {"name": "a"}}, {"memory": {"name": "a"}}),
                   base_dir=tmp_path, state_dir=tmp_path)
    assert ("regions[0].sources[1].memory.name: 'memory:a' is also regions[0].sources[0]; "
            "expected each held set in one source only") in str(bad.value)
    with pytest.raises(BadInput) as bad:
        parse_spec(_doc({"memory": {"nme": "a"}}), base_dir=tmp_path, state_dir=tmp_path)
    assert ("regions[0].sources[0].memory.nme: is not a known field; did you mean 'name'? "
            "known here: name") in str(bad.value)
    with pytest.raises(BadInput) as bad:
        parse_spec(_doc({"tape": "x"}), base_dir=tmp_path, state_dir=tmp_path)
    assert f"is not a source; expected {BUILT_IN_FORMS.replace(' or ', ', ')} or " \
           "{memory: {name: NAME}}" in str(bad.value)


def test_a_new_kind_leaves_the_others_and_their_digests_alone(tmp_path: Path):
    (tmp_path / "north").mkdir()
    doc = _doc({"folder": "north"})
    before = spec_digest(parse_spec(doc, base_dir=tmp_path, state_dir=tmp_path))
    with register_source_kind(MEMORY):
        spec = parse_spec(doc, base_dir=tmp_path, state_dir=tmp_path)
        assert spec_digest(spec) == before
        assert spec.regions[0].sources[0].memory is None
    assert expected_sources() == BUILT_IN_FORMS
    with pytest.raises(BadInput, match="is not a source"):
        parse_spec(_doc({"memory": {"name": "north"}}), base_dir=tmp_path, state_dir=tmp_path)


def test_a_kind_name_is_registered_once():
    other = SourceKind(name="folder", model=str, form="{folder: X}", label=str, key=str,
                       duplicate="", open=_open_memory)
    with pytest.raises(ValueError, match="already registered"):
        register_source_kind(other)


def test_registering_a_built_in_again_leaves_it_registered():
    folder = SOURCE_KINDS["folder"]
    with register_source_kind(folder):
        pass
    assert SOURCE_KINDS["folder"] is folder
