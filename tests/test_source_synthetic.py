"""The load-test source (`synthetic`): valid studies generated on the fly, deterministic per
(seed, study), that go through the real ingest path and leave their identities behind."""

from __future__ import annotations

import pickle
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from jobs.ingest import Selected, discover, load_volume, select_series, take_in
from jobs.ingest.dicom.headers import SliceHeader, header_from_dataset
from jobs.ingest.privacy import LocatorSeal, OptOutList, Pseudonymizer
from jobs.ingest.sources import SyntheticSource, open_source, source_spec_from_text
from jobs.run import load_study
from jobs.spec import parse_spec
from kernel.errors import BadInput, PermanentError


def _selected(source: SyntheticSource) -> list[Selected]:
    chosen = []
    for study in discover([source]):
        decision = select_series(study)
        assert isinstance(decision, Selected), decision
        chosen.append(decision)
    return chosen


def test_every_study_is_selected_and_loads_to_its_shape():
    source = SyntheticSource(3, seed=5)
    chosen = _selected(source)
    assert len(chosen) == 3
    for selected in chosen:
        assert selected.slice_count == 80 and selected.spacing == (2.5, 10.0, 10.0)
        volume = load_volume(source, selected)
        assert volume.hu.shape == (80, 32, 32) and volume.hu.dtype == np.int16
        assert int(volume.hu.min()) >= -1030 and int(volume.hu.max()) <= 70


def test_scanned_headers_are_those_of_the_datasets_it_serves():
    source = SyntheticSource(2, seed=1)
    headers = [h for h in source.scan() if isinstance(h, SliceHeader)]
    assert len(headers) == 2 * 80
    for i, ds in source.read_instances(headers):
        served = header_from_dataset(ds, headers[i].locator, str(ds.file_meta.TransferSyntaxUID),
                                     has_pixel_data="PixelData" in ds)
        assert served == headers[i]
        assert ds.pixel_array.shape == (32, 32)


def test_the_same_seed_gives_the_same_studies_and_another_seed_others():
    def volumes(seed: int) -> list[np.ndarray]:
        source = SyntheticSource(2, seed=seed)
        return [load_volume(source, s).hu for s in _selected(source)]

    a, again, other = volumes(7), volumes(7), volumes(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, again, strict=True))
    assert not np.array_equal(a[0], a[1])
    assert not any(np.array_equal(x, y) for x, y in zip(a, other, strict=True))
    first, second = SyntheticSource(2, 7).study(0), SyntheticSource(2, 8).study(0)
    assert first == SyntheticSource(5, 7).study(0) and first.study_uid != second.study_uid


def test_each_study_is_a_person_of_its_own():
    studies = list(SyntheticSource(50, seed=3).all_studies())
    for name in ("patient_id", "patient_name", "study_uid", "series_uid"):
        assert len({getattr(s, name) for s in studies}) == 50


def test_a_spec_and_the_command_line_name_it(tmp_path: Path):
    spec = parse_spec({"id": "load-1", "regions": [{"name": "north", "sources": [
        {"synthetic": {"studies": 4, "seed": 9}}]}]}, base_dir=tmp_path, state_dir=tmp_path)
    (entry,) = spec.regions[0].sources
    assert entry.kind == "synthetic" and entry.label == "synthetic://4?seed=9"
    typed = source_spec_from_text("synthetic://4?seed=9", {})
    assert typed == entry
    source = open_source(typed, {})
    assert isinstance(source, SyntheticSource) and (source.studies, source.seed) == (4, 9)
    assert source_spec_from_text("synthetic://2", {}).entry.seed == 0
    for bad in ("synthetic://0", "synthetic://x?seed=1", "synthetic://3?seed=-1"):
        with pytest.raises(BadInput, match="expected synthetic://N"):
            source_spec_from_text(bad, {})
    with pytest.raises(BadInput, match="expected a distinct seed per source"):
        parse_spec({"id": "load-2", "regions": [
            {"name": "north", "sources": [{"synthetic": {"studies": 4, "seed": 1}}]},
            {"name": "south", "sources": [{"synthetic": {"studies": 2, "seed": 1}}]}]},
            base_dir=tmp_path, state_dir=tmp_path)


def test_a_locator_of_no_study_is_refused():
    source = SyntheticSource(1)
    header = next(h for h in source.scan() if isinstance(h, SliceHeader))
    for locator in ("1/0", "0/80", "x"):
        with pytest.raises(PermanentError):
            list(source.read_instances([replace(header, locator=locator)]))


def test_no_identity_passes_intake_or_travels_with_a_task(tmp_path: Path):
    source = SyntheticSource(4, seed=2)
    spec = parse_spec({"id": "load-3", "regions": [{"name": "north", "sources": [
        {"synthetic": {"studies": 4, "seed": 2}}]}]}, base_dir=tmp_path, state_dir=tmp_path)
    pseudonymizer = Pseudonymizer(b"k" * 32)
    intake = take_in(spec, pseudonymizer, OptOutList(pseudonymizer), env={})
    assert len(intake.records) == 4 and not intake.early
    phi = {value for s in source.all_studies()
           for value in (s.patient_id, s.patient_name, s.study_uid, s.series_uid, s.frame_uid,
                         s.birth_date, s.study_date, s.institution)}
    records = " ".join(f"{r!r} {asdict(r)}" for r in intake.records.values())
    assert not {v for v in phi if v in records}
    key_file = tmp_path / "pseudonym.key"
    key_file.write_bytes(b"k" * 32)
    key_file.chmod(0o600)
    seal = LocatorSeal(b"k" * 32, key_file)
    for pid, selected in intake.locators.items():
        sealed = seal.seal(selected)
        wire = pickle.dumps(sealed)
        assert not {v for v in phi if v.encode() in wire}
        assert load_study(sealed).hu.shape == (80, 32, 32)
        assert pseudonymizer.study(selected.slices[0].patient_id,
                                   selected.study.study_uid) == pid
