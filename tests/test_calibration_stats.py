"""Agreement of several raters (pipeline/stats.py): Fleiss' κ and Krippendorff's α (nominal), checked
against the worked examples of the textbooks they come from, plus the edge cases a calibration
session meets (perfect agreement, one value throughout, missing answers)."""

from __future__ import annotations

import pytest

from pipeline.stats import cohen_kappa, fleiss_kappa, krippendorff_alpha, unit_agreement

# Fleiss' κ worked example (Wikipedia "Fleiss' kappa", after Fleiss 1971): 10 subjects, 14 raters,
# 5 categories; per subject how many raters chose each category. p_j = .143 .200 .279 .150 .229,
# P̄ = .378, P̄e = .213, κ = .210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", §C: 4 observers, 12 units,
# values 1–5, missing data (.); nominal α = 0.743. Unit 12 has one value and is not pairable.
N = None
KRIPP_OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
# Krippendorff (2011) §A: binary data, two observers, no missing data; α = 0.095. Fleiss' κ for two
# raters is Scott's π: observed agreement 6/10, expected .7² + .3² = .58, π = .02 / .42.
BINARY_A = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
BINARY_B = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]


def _units_from_counts(table):
    return [[j for j, count in enumerate(row) for _ in range(count)] for row in table]


def test_fleiss_kappa_on_the_worked_example():
    units = _units_from_counts(FLEISS_TABLE)
    assert fleiss_kappa(units) == pytest.approx(0.210, abs=5e-4)
    assert [round(unit_agreement(u), 3) for u in units[:2]] == [1.0, 0.253]  # P_1 = 1, P_2 = 46/182


def test_krippendorff_alpha_on_the_worked_example_with_missing_values():
    units = list(zip(*KRIPP_OBSERVERS))
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_two_raters_binary():
    units = list(zip(BINARY_A, BINARY_B))
    assert krippendorff_alpha(units) == pytest.approx(0.095, abs=5e-4)
    assert fleiss_kappa(units) == pytest.approx(0.02 / 0.42)


@pytest.mark.parametrize("units, kappa, alpha", [
    ([["confirmed"] * 3, ["rejected"] * 3], 1.0, 1.0),                        # all agree, two values occur
    ([["confirmed"] * 3, ["confirmed"] * 3], None, None),                     # one value throughout: undefined
    ([["a", "b"], ["b", "a"]], -1.0, -0.5),                                   # systematic disagreement
    ([], None, None),
])
def test_edge_cases(units, kappa, alpha):
    assert fleiss_kappa(units) == (pytest.approx(kappa) if kappa is not None else None)
    assert krippendorff_alpha(units) == (pytest.approx(alpha) if alpha is not None else None)


def test_alpha_leaves_out_missing_values_and_lone_units():
    full = [["a", "a", "b"], ["b", "b", "b"], ["a", "a", "a"]]
    assert krippendorff_alpha(full + [["c", None, None]]) == pytest.approx(krippendorff_alpha(full))
    assert unit_agreement(["a", None]) is None and unit_agreement(["a", "a", "b"]) == pytest.approx(1 / 3)


def test_fleiss_refuses_uneven_or_missing_labels():
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["a", "b"], ["a", "b", "c"]])
    with pytest.raises(ValueError, match="krippendorff_alpha"):
        fleiss_kappa([["a", None], ["a", "b"]])


def test_two_raters_fleiss_is_close_to_cohen_when_marginals_match():
    a = ["x", "x", "y", "y", "x", "y"]
    b = ["x", "y", "y", "x", "x", "y"]  # same marginals: Scott's π = Cohen's κ
    assert fleiss_kappa(list(zip(a, b))) == pytest.approx(cohen_kappa(a, b))
