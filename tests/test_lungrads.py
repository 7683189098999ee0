import pytest

from kernel.contract import Nodule, NoduleType
from kernel.lungrads import POSITIVE_CATEGORIES, Category, categorize_nodule, categorize_study

S, PS, GG = NoduleType.SOLID, NoduleType.PART_SOLID, NoduleType.GROUND_GLASS


def nod(kind: NoduleType, d: float, solid: float | None = None) -> Nodule:
    if solid is None:
        solid = d if kind is S else 0.0
    return Nodule(0, 0, 0, d, solid, kind, 0.9)


@pytest.mark.parametrize(
    ("kind", "diameter", "solid", "expected"),
    [
        # solid: 6 / 8 / 15 mm boundaries, and the rounding to one decimal
        (S, 3.0, None, "2"),
        (S, 5.9, None, "2"),
        (S, 5.94, None, "2"),
        (S, 5.95, None, "3"),
        (S, 6.0, None, "3"),
        (S, 7.9, None, "3"),
        (S, 8.0, None, "4A"),
        (S, 14.9, None, "4A"),
        (S, 15.0, None, "4B"),
        (S, 35.0, None, "4B"),
        # ground glass: 30 mm
        (GG, 10.0, None, "2"),
        (GG, 29.9, None, "2"),
        (GG, 30.0, None, "3"),
        # part-solid: total 6 mm, then solid part 6 / 8 mm
        (PS, 5.9, 2.0, "2"),
        (PS, 6.0, 2.0, "3"),
        (PS, 12.0, 5.9, "3"),
        (PS, 12.0, 6.0, "4A"),
        (PS, 12.0, 7.9, "4A"),
        (PS, 12.0, 8.0, "4B"),
        (PS, 20.0, 14.0, "4B"),
    ],
)
def test_nodule_boundaries(kind, diameter, solid, expected):
    assert categorize_nodule(nod(kind, diameter, solid)) is Category.parse(expected)


def test_study_takes_worst_nodule():
    found = [nod(S, 4.0), nod(GG, 31.0), nod(S, 9.0), nod(PS, 7.0, 3.0)]
    assert categorize_study(found) is Category.SUSPICIOUS_4A


def test_study_without_nodules_is_negative():
    assert categorize_study([]) is Category.NEGATIVE


def test_uncovered_lungs_are_incomplete_whatever_was_found():
    assert categorize_study([nod(S, 20.0)], lungs_covered=False) is Category.INCOMPLETE


def test_positive_means_three_or_above():
    assert {c.value for c in POSITIVE_CATEGORIES} == {"3", "4A", "4B", "4X"}


def test_parse_rejects_unknown_label():
    with pytest.raises(ValueError, match="unknown Lung-RADS category '5'"):
        Category.parse("5")
