"""The varied cohort family (synth_varied): deterministic, its truth the drawn shapes', its
factors varying from study to study, and its cohorts read as synth's are."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import build_parser, main
from jobs.ingest.cases import cohort_cases
from kernel.contract import NoduleType
from models.tooling.cohort import CohortSkips
from synth_varied import make_varied, write_varied_cohort
from synth_varied.findings import render_finding
from synth_varied.prior import cohort_family
from synth_varied.trees import vessel_tree
from synth_varied.volume import describe, seed_streams

SMALL = {"thickness": 2.5, "matrix": 256, "pixel": 1.1}  # about 7 M voxels: a few seconds


def _axes_mm(mask: np.ndarray, pixel: float) -> float:
    """Mean of long and short axis (mm) of a 2-D mask, measured on its pixels."""
    pts = np.argwhere(mask) * pixel
    if len(pts) == 1:
        return pixel
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    u = (pts[j] - pts[i]) / d[i, j]
    proj = pts @ np.array([-u[1], u[0]])
    return 0.5 * (d[i, j] + pixel + proj.max() - proj.min() + pixel)


def _rendered_diameter(vol: np.ndarray, pixel: float) -> float:
    return max((_axes_mm(vol[k], pixel) for k in range(vol.shape[0]) if vol[k].any()),
               default=0.0)


def test_a_seed_renders_the_same_study_every_time():
    a, b = make_varied(21, **SMALL), make_varied(21, **SMALL)
    assert np.array_equal(a.hu, b.hu)
    assert a.nodules == b.nodules and a.scan == b.scan
    other = make_varied(22, **SMALL)
    assert other.patient != a.patient
    assert other.hu.shape != a.hu.shape or not np.array_equal(other.hu, a.hu)


@pytest.mark.parametrize("seed", [5, 13, 46])  # 46: solid, part-solid and ground glass
def test_truth_diameters_agree_with_the_rendered_shapes(seed):
    st = make_varied(seed, n_nodules=4, clean=True, **SMALL)
    assert st.nodules, "no nodule placed"
    px = st.spacing[1]
    kinds = set()
    for truth, f in zip(st.nodules, st.findings, strict=True):
        kinds.add(truth.type)
        vol = np.full(st.grid.shape, -1000.0, dtype=np.float32)
        render_finding(vol, st.grid, f)
        outer_hu = f.hu_solid if f.kind is NoduleType.SOLID else f.hu_glass
        outer = vol > (-1000.0 + outer_hu) / 2.0
        k, j, i = (round(v) for v in (truth.z, truth.y, truth.x))
        assert outer[k, j, i], "the truth's centre lies outside the drawn nodule"
        tolerance = px + 0.03 * truth.diameter_mm  # the pixel measure adds about half a pixel
        assert abs(_rendered_diameter(outer, px) - truth.diameter_mm) <= tolerance
        if f.kind is NoduleType.PART_SOLID:
            core = vol > (f.hu_glass + f.hu_solid) / 2.0
            assert 0 < truth.solid_diameter_mm < truth.diameter_mm
            tolerance = px + 0.03 * truth.solid_diameter_mm
            assert abs(_rendered_diameter(core, px) - truth.solid_diameter_mm) <= tolerance
        elif f.kind is NoduleType.GROUND_GLASS:
            assert truth.solid_diameter_mm == 0.0
        else:
            assert truth.solid_diameter_mm == truth.diameter_mm
    if seed == 46:
        assert kinds == set(NoduleType)
        assert {n.attached_to for n in st.nodules} == {"none", "pleura", "vessel"}


def test_what_a_population_varies_varies_across_seeds():
    drawn = [describe(s) for s in range(60)]
    pats = [p for p, _ in drawn]
    scans = [s for _, s in drawn]
    thick = [s.thickness for s in scans]
    assert min(thick) <= 0.625 and max(thick) == 2.5 and len(set(thick)) >= 6
    pixel = [s.pixel for s in scans]
    assert min(pixel) < 0.75 and max(pixel) >= 1.05
    assert len({s.matrix for s in scans}) >= 4
    assert min(s.matrix for s in scans) == 256 and max(s.n_slices for s in scans) > 300

    def spread(values):
        return max(values) - min(values)

    assert spread([p.vessel_root_mm for p in pats]) > 2.0
    assert spread([p.tortuosity for p in pats]) > 0.25
    assert spread([p.branch_deg for p in pats]) > 25.0
    assert spread([p.hu_vessel for p in pats]) > 60.0
    assert spread([p.wall_ratio for p in pats]) > 0.2
    assert spread([s.noise_sigma for s in scans]) > 25.0
    assert spread([s.grain_mm for s in scans]) > 0.8
    for values in ([p.emphysema for p in pats], [float(p.scars) for p in pats],
                   [float(p.bands) for p in pats], [p.kink_rate for p in pats],
                   [p.end_rate for p in pats], [s.motion_mm for s in scans],
                   [s.blur_mm for s in scans], [s.sharpen for s in scans]):
        assert min(values) == 0.0 or min(values) < 0.005
        assert max(values) > 0.0
    assert len({s.pad_hu for s in scans if s.fov_circle}) == 3


def test_the_vessel_trees_differ_in_calibre_and_size():
    trees = []
    for seed in (1, 2, 3, 4):
        pat, _ = describe(seed)
        trees.append((pat, vessel_tree(seed_streams(seed)[2], pat)))  # no volume
    widest = [float(t.r0.max()) for _, t in trees]
    assert max(widest) - min(widest) > 0.8
    assert len({len(t) for _, t in trees}) == 4
    for pat, t in trees:
        assert t.r0.max() <= pat.vessel_root_mm * 1.15 + 1e-9


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("varied")
    return out, write_varied_cohort(out, studies=3, regions=2, seed=4, workers=1,
                                    acquisition=SMALL)


def test_a_cohort_of_the_family_is_read_by_the_ingest_path(small_cohort):
    folder, summary = small_cohort
    assert summary.studies == 3 and summary.regions == {"north": 2, "south": 1}
    truth = [json.loads(line) for line in summary.truth_path.read_text().splitlines()]
    assert {t["family"] for t in truth} == {"varied"}
    assert all(t["acquisition"]["thickness_mm"] == 2.5 for t in truth)
    meta = json.loads((folder / "cohort.json").read_text())
    assert meta["family"] == "varied" and meta["args"]["acquisition"] == SMALL
    skips = CohortSkips()
    cases = list(cohort_cases(folder, skips))
    assert skips.counts == {} and len(cases) == 3
    by_name = {c.name: c for c in cases}
    for t in truth:
        case = by_name[f"study-{t['index']}"]
        assert list(case.hu.shape) == t["shape"]
        assert np.allclose(case.spacing, t["spacing"], atol=1e-3)
        assert len(case.truth) == len(t["nodules"])
        assert case.category.value == t["lung_rads"]


def test_lungscreen_synth_family_varied_writes_the_family(tmp_path, capsys):
    out = tmp_path / "varied"
    # seed 50's one study is among the smallest the family draws (1.5 mm, 256 matrix)
    code = main(["synth", "--out", str(out), "--studies", "1", "--regions", "1", "--seed", "50",
                 "--family", "varied", "--workers", "1"])
    assert code == 0
    assert "wrote 1 studies" in capsys.readouterr().out
    truth = [json.loads(line) for line in (out / "ground_truth.jsonl").read_text().splitlines()]
    assert len(truth) == 1 and truth[0]["family"] == "varied"
    assert json.loads((out / "cohort.json").read_text())["args"]["family"] == "varied"
    assert len(list(cohort_cases(out))) == 1


@pytest.mark.parametrize(("extra", "message"), [
    (["--family", "nope"], "unknown cohort family 'nope'; use one of standard, varied"),
    (["--family", "varied", "--defects"], "--defects cannot go with --family varied"),
    (["--family", "varied", "--profile", "realistic"],
     "--profile cannot go with --family varied"),
])
def test_a_family_that_cannot_do_it_is_refused(tmp_path, capsys, extra, message):
    code = main(["synth", "--out", str(tmp_path / "c"), "--studies", "2", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_the_default_family_is_synths_and_a_follow_up_takes_its_priors(small_cohort):
    args = build_parser().parse_args(["synth", "--out", "x", "--studies", "2"])
    assert args.family is None  # resolved: standard for a new cohort, the prior's for a next round
    assert cohort_family(small_cohort[0]) == "varied"


def test_a_follow_up_of_a_varied_prior_as_another_family_is_refused(small_cohort, tmp_path,
                                                                     capsys):
    folder, _ = small_cohort
    code = main(["synth", "--out", str(tmp_path / "r2"), "--follow-up", str(folder),
                 "--months", "12", "--family", "standard"])
    assert code == 2
    assert "--family standard cannot go with --follow-up" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_a_varied_follow_up_has_no_defects(small_cohort, tmp_path, capsys):
    folder, _ = small_cohort
    code = main(["synth", "--out", str(tmp_path / "r2"), "--follow-up", str(folder),
                 "--months", "12", "--defects"])
    assert code == 2
    assert "--defects cannot go with --family varied" in capsys.readouterr().err
