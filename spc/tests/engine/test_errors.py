"""Data a method cannot use raises a specific error that says what and where — never a number."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spc import engine as E

NAN = math.nan
INF = math.inf
GOOD = [[1.0, 2.0, 3.0], [2.0, 3.0, 5.0], [1.5, 2.5, 2.0]]


def test_all_errors_are_value_errors():
    for cls in (
        E.InsufficientDataError,
        E.SubgroupSizeError,
        E.ZeroVariationError,
        E.InvalidCountError,
        E.NonFiniteValueError,
        E.SpecificationError,
        E.ParameterError,
    ):
        assert issubclass(cls, E.EngineError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("fn", [E.xbar_r_limits, E.xbar_s_limits])
def test_fewer_than_two_subgroups(fn):
    with pytest.raises(E.InsufficientDataError, match="at least 2 subgroups, got 1"):
        fn([[1.0, 2.0, 3.0]])
    with pytest.raises(E.InsufficientDataError, match="got 0"):
        fn([])
    with pytest.raises(E.InsufficientDataError, match="got 1 after excluding 2"):
        fn(GOOD, excluded=[True, False, True])


def test_fewer_than_two_values_or_samples():
    with pytest.raises(E.InsufficientDataError, match="at least 2 values"):
        E.imr_limits([1.0])
    with pytest.raises(E.InsufficientDataError, match="at least 2 samples"):
        E.c_limits([3])
    with pytest.raises(E.InsufficientDataError, match="at least 2 samples"):
        E.p_limits([1], [10])


@pytest.mark.parametrize("fn", [E.xbar_r_limits, E.xbar_s_limits])
def test_subgroup_size_outside_table(fn):
    with pytest.raises(E.SubgroupSizeError, match=r"subgroup 1 has 1 value\(s\)") as exc:
        fn([[1.0, 2.0], [3.0], [4.0, 5.0]])
    assert exc.value.index == 1
    with pytest.raises(E.SubgroupSizeError, match="subgroup 0 has 51 value"):
        fn([list(range(51)), list(range(51))])
    with pytest.raises(E.SubgroupSizeError, match="subgroup 0 has 1 value"):
        fn(np.ones((4, 1)))


def test_subgroup_nan_and_infinity_named():
    data = [[1.0, 2.0]] * 7 + [[1.0, NAN]] + [[2.0, 3.0]]
    with pytest.raises(E.NonFiniteValueError, match="subgroup 7 contains NaN") as exc:
        E.xbar_r_limits(data)
    assert exc.value.index == 7
    data = [[1.0, 2.0, 3.0], [1.0, 2.0], [2.0, -INF]]
    with pytest.raises(E.NonFiniteValueError, match="subgroup 2 contains -infinity"):
        E.xbar_s_limits(data)
    with pytest.raises(E.NonFiniteValueError, match="subgroup 1 contains NaN"):
        E.xbar_r_limits(np.array([[1.0, 2.0], [None, 1.0], [3.0, 4.0]], dtype=float))


def test_excluded_subgroups_are_not_validated():
    data = [[1.0, 2.0], [NAN, "x"], [3.0], [2.0, 4.0]]
    fit = E.xbar_r_limits(data, excluded=[False, True, True, False])
    assert fit.excluded_indices == (1, 2)
    assert fit.included_indices.tolist() == [0, 3]


def test_index_in_messages_refers_to_the_input_after_exclusions():
    data = [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [NAN, 1.0]]
    with pytest.raises(E.NonFiniteValueError, match="subgroup 3"):
        E.xbar_r_limits(data, excluded=[True, False, False, False])
    with pytest.raises(E.NonFiniteValueError, match="value 4 is \\+infinity"):
        E.imr_limits([1.0, 2.0, 9.0, 3.0, INF], excluded=[False, False, True, False, False])


def test_zero_variation():
    with pytest.raises(E.ZeroVariationError, match="zero range"):
        E.xbar_r_limits([[2.0, 2.0], [3.0, 3.0]])
    with pytest.raises(E.ZeroVariationError, match="zero standard deviation"):
        E.xbar_s_limits([[2.0, 2.0], [3.0, 3.0]])
    with pytest.raises(E.ZeroVariationError, match="all 3 values are equal"):
        E.imr_limits([5.0, 5.0, 5.0])
    with pytest.raises(E.ZeroVariationError, match="p̄ = 0"):
        E.p_limits([0, 0, 0], [10, 10, 10])
    with pytest.raises(E.ZeroVariationError, match="only nonconforming"):
        E.np_limits([10, 10], 10)
    with pytest.raises(E.ZeroVariationError, match="c̄ = 0"):
        E.c_limits([0, 0])
    with pytest.raises(E.ZeroVariationError, match="ū = 0"):
        E.u_limits([0, 0], [1.5, 2.0])


def test_negative_and_fractional_counts():
    with pytest.raises(E.InvalidCountError, match="sample 2 has a negative count \\(-1\\)") as exc:
        E.c_limits([3, 4, -1])
    assert exc.value.index == 2
    with pytest.raises(
        E.InvalidCountError, match="sample 1 has a count that is not a whole number"
    ):
        E.p_limits([1, 2.5], [10, 10])
    with pytest.raises(E.InvalidCountError, match="negative count"):
        E.u_limits([1, -2], [1, 1])


def test_defectives_greater_than_sample_size():
    with pytest.raises(
        E.InvalidCountError, match="sample 1 has 12 nonconforming items but a sample size of 10"
    ):
        E.p_limits([1, 12, 3], [10, 10, 10])
    with pytest.raises(E.InvalidCountError, match="sample 0 has 11 nonconforming"):
        E.np_limits([11, 2], 10)


def test_bad_sample_sizes_and_units():
    with pytest.raises(E.InvalidCountError, match="sample 1 has a sample size of 0"):
        E.p_limits([1, 0], [10, 0])
    with pytest.raises(E.InvalidCountError, match="not a whole number"):
        E.p_limits([1, 0], [10, 10.5])
    with pytest.raises(E.InvalidCountError, match="number of units of -2"):
        E.u_limits([1, 0], [1.5, -2])
    with pytest.raises(E.NonFiniteValueError, match="the count of sample 1 is NaN"):
        E.c_limits([1, NAN])
    with pytest.raises(E.SubgroupSizeError, match="constant sample size"):
        E.np_limits([1, 2], [10, 20])
    with pytest.raises(E.ParameterError, match="3 counts but 2"):
        E.p_limits([1, 2, 3], [10, 10])


def test_bad_exclusion_masks():
    with pytest.raises(E.ParameterError, match="mask has 2 entries but there are 3"):
        E.xbar_r_limits(GOOD, excluded=[True, False])
    with pytest.raises(E.ParameterError, match="not a list of indices"):
        E.c_limits([1, 2, 3, 4], excluded=[0, 3])


def test_non_numeric_input():
    with pytest.raises(E.EngineError, match="subgroup 1 contains a non-numeric value"):
        E.xbar_r_limits([[1.0, 2.0], ["a", 2.0, 3.0]])
    with pytest.raises(E.EngineError):
        E.imr_limits(["a", "b"])
    with pytest.raises(E.EngineError, match="sequence of sequences"):
        E.xbar_r_limits([1.0, 2.0, 3.0])


@pytest.mark.parametrize("nsigma", [0, -1, NAN, INF, "3"])
def test_bad_nsigma(nsigma):
    with pytest.raises(E.ParameterError):
        E.xbar_r_limits(GOOD, nsigma=nsigma)


def test_z_scores_errors():
    with pytest.raises(E.NonFiniteValueError, match="statistic 1 is NaN"):
        E.z_scores("i", [1.0, NAN], center=0.0, sigma=1.0)
    with pytest.raises(E.ParameterError, match="sizes are required"):
        E.z_scores("xbar", [1.0], center=0.0, sigma=1.0)
    with pytest.raises(E.ParameterError, match="unknown statistic"):
        E.z_scores("xbar_r", [1.0], [5], 0.0, 1.0)
    with pytest.raises(E.SubgroupSizeError):
        E.z_scores("r", [1.0], [1], sigma=1.0)
    with pytest.raises(E.ParameterError, match="sigma"):
        E.z_scores("i", [1.0], center=0.0, sigma=0.0)
    with pytest.raises(E.NonFiniteValueError):
        E.z_score("i", NAN, center=0.0, sigma=1.0)


def test_cusum_parameter_errors():
    with pytest.raises(E.ParameterError):
        E.cusum([1.0, 2.0], k=-1, h=5, target=0, sigma=1)
    with pytest.raises(E.ParameterError):
        E.cusum([1.0, 2.0], k=0.5, h=0, target=0, sigma=1)
    with pytest.raises(E.NonFiniteValueError, match="value 1 is NaN"):
        E.cusum([1.0, NAN], k=0.5, h=5, target=0, sigma=1)
