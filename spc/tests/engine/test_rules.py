"""Nelson rules: hand-built sequences for every rule and every edge case of the convention.

Each sequence is checked with the vectorised evaluation; ``fire`` additionally asserts that
the incremental evaluation (evaluate_latest on the last ≤ 15 values, and RuleWindow) returns
exactly the same firings.
"""

from __future__ import annotations

import numpy as np
import pytest

from spc import engine as E
from spc.engine.rules import RuleFiring


def incremental(z, rules=E.RULES):
    out = []
    for i in range(len(z)):
        lo = max(0, i - E.WINDOW + 1)
        out += E.evaluate_latest(z[lo : i + 1], rules, offset=lo)
    return out


def fire(z, rule):
    """{index: points} of ``rule`` (only that rule enabled), same from both evaluations."""
    vec = E.evaluate_rules(z, rules={rule})
    assert vec == incremental(z, rules={rule})
    win = E.RuleWindow(rules={rule})
    assert [f for v in z for f in win.push(v)] == vec
    assert all(f.rule == rule for f in vec)
    return {f.index: f.points for f in vec}


def run(first, length):
    return tuple(range(first, first + length))


# --- rule 1 -------------------------------------------------------------------------------


def test_rule1_strictly_beyond_three():
    z = [0.0, 3.0, 3.0000001, -3.0, -3.5, 2.9999, 1e9]
    assert fire(z, 1) == {2: (2,), 4: (4,), 6: (6,)}


def test_rule1_first_point():
    assert fire([-4.0], 1) == {0: (0,)}


# --- rule 2 -------------------------------------------------------------------------------


def test_rule2_nine_above_from_start_of_series():
    assert fire([0.5] * 8, 2) == {}
    assert fire([0.5] * 9, 2) == {8: run(0, 9)}


def test_rule2_fires_again_while_the_run_continues():
    assert fire([0.1] * 11, 2) == {8: run(0, 9), 9: run(1, 9), 10: run(2, 9)}


def test_rule2_below():
    assert fire([1.0] + [-0.2] * 9, 2) == {9: run(1, 9)}


def test_rule2_point_on_center_line_breaks_the_run():
    z = [0.5] * 4 + [0.0] + [0.5] * 8
    assert fire(z, 2) == {}
    z = [0.5] * 4 + [0.0] + [0.5] * 9
    assert fire(z, 2) == {13: run(5, 9)}
    assert fire([-0.0] + [0.3] * 8, 2) == {}


def test_rule2_side_change_breaks_the_run():
    assert fire([0.5] * 5 + [-0.5] * 5, 2) == {}


# --- rule 3 -------------------------------------------------------------------------------


def test_rule3_six_increasing_is_five_increases():
    assert fire([0, 1, 2, 3, 4], 3) == {}
    assert fire([0, 1, 2, 3, 4, 5], 3) == {5: run(0, 6)}


def test_rule3_decreasing_and_continuing():
    z = [3, 2, 1, 0, -1, -2, -2.5, -2.6]
    assert fire(z, 3) == {5: run(0, 6), 6: run(1, 6), 7: run(2, 6)}


def test_rule3_tie_breaks_the_run():
    assert fire([0, 1, 2, 2, 3, 4, 5], 3) == {}
    assert fire([0, 1, 2, 2, 3, 4, 5, 6, 7], 3) == {8: run(3, 6)}


def test_rule3_long_run():
    z = list(np.linspace(-2.5, 2.5, 20))
    assert fire(z, 3) == {i: run(i - 5, 6) for i in range(5, 20)}


def test_rule3_direction_change():
    # up 5 times, then down: the down-run needs its own 5 decreases
    z = [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0]
    assert fire(z, 3) == {5: run(0, 6), 10: run(5, 6)}


def test_rule3_uses_z_not_zone():
    # tiny increases near the center line still count
    z = [0.001 * i for i in range(6)]
    assert fire(z, 3) == {5: run(0, 6)}


# --- rule 4 -------------------------------------------------------------------------------


def alternating(k, start_up=True, amp=1.0):
    return [amp * (1 if (i % 2 == 0) == start_up else -1) for i in range(k)]


def test_rule4_fourteen_points():
    assert fire(alternating(13), 4) == {}
    assert fire(alternating(14), 4) == {13: run(0, 14)}
    assert fire(alternating(14, start_up=False), 4) == {13: run(0, 14)}


def test_rule4_continues():
    assert fire(alternating(16), 4) == {13: run(0, 14), 14: run(1, 14), 15: run(2, 14)}


def test_rule4_tie_breaks_it():
    z = alternating(14)
    z[7] = z[6]  # a zero difference
    assert fire(z, 4) == {}


def test_rule4_two_steps_in_the_same_direction_break_it():
    z = alternating(30)  # 1, -1, 1, -1, ...
    z[10] = -1.5  # -1 → -1.5 → -1: down, down, then up, up (z[12] = 1)
    # differences 9/10 and 11/12 do not alternate; 13 alternating differences 12..24 end at 24
    assert fire(z, 4) == {i: run(i - 13, 14) for i in range(24, 30)}
    assert fire(alternating(14)[:7] + [-1.0] + alternating(14, start_up=False)[:6], 4) == {}


def test_rule4_small_oscillations_count():
    z = [0.01 * (-1) ** i for i in range(14)]
    assert fire(z, 4) == {13: run(0, 14)}


# --- rule 5 -------------------------------------------------------------------------------


def test_rule5_two_of_three_with_gap():
    assert fire([2.1, 0.0, 2.1], 5) == {2: (0, 2)}


def test_rule5_consecutive_and_start_of_series():
    assert fire([2.1, 2.1], 5) == {1: (0, 1)}
    assert fire([2.1, 2.1, 2.1], 5) == {1: (0, 1), 2: (0, 1, 2)}


def test_rule5_exactly_two_is_not_beyond():
    assert fire([2.0, 2.1, 2.0], 5) == {}
    assert fire([-2.0, -2.5], 5) == {}


def test_rule5_same_side_only():
    assert fire([2.5, -2.5], 5) == {}
    assert fire([2.5, -2.5, 2.5], 5) == {2: (0, 2)}
    assert fire([-2.5, 0.0, -2.2], 5) == {2: (0, 2)}


def test_rule5_the_firing_point_must_be_beyond():
    assert fire([2.5, 2.5, 1.0], 5) == {1: (0, 1)}


def test_rule5_only_two_points_back():
    assert fire([2.5, 0.0, 0.0, 2.5], 5) == {}


def test_rule5_point_beyond_three_counts_too():
    assert fire([3.5, 0.0, 2.1], 5) == {2: (0, 2)}


# --- rule 6 -------------------------------------------------------------------------------


def test_rule6_four_of_five():
    assert fire([1.1, 1.1, 1.1, 0.0, 1.1], 6) == {4: (0, 1, 2, 4)}


def test_rule6_start_of_series_and_continuation():
    assert fire([1.1, 1.1, 1.1], 6) == {}
    assert fire([1.1, 1.1, 1.1, 1.1], 6) == {3: (0, 1, 2, 3)}
    assert fire([1.1] * 6, 6) == {3: (0, 1, 2, 3), 4: (0, 1, 2, 3, 4), 5: (1, 2, 3, 4, 5)}


def test_rule6_exactly_one_is_not_beyond():
    assert fire([1.0, 1.1, 1.1, 1.1], 6) == {}
    assert fire([1.0, 1.1, 1.1, 1.1, 1.1], 6) == {4: (1, 2, 3, 4)}
    assert fire([1.1, 1.1, 1.1, 1.1, 1.0], 6) == {3: (0, 1, 2, 3)}


def test_rule6_same_side_only():
    assert fire([1.1, -1.1, 1.1, 1.1, 1.1], 6) == {4: (0, 2, 3, 4)}
    assert fire([-1.5, -1.5, 1.5, -1.5, -1.5], 6) == {4: (0, 1, 3, 4)}
    assert fire([1.5, -1.5, 1.5, -1.5, 1.5, -1.5], 6) == {}


def test_rule6_only_four_points_back():
    assert fire([1.5, 1.5, 0.0, 0.0, 1.5, 1.5], 6) == {}


# --- rule 7 -------------------------------------------------------------------------------


def test_rule7_fifteen_within_one_sigma():
    z = [0.5, -0.5] * 7
    assert fire(z, 7) == {}
    z = [0.5, -0.5] * 7 + [0.0]
    assert fire(z, 7) == {14: run(0, 15)}


def test_rule7_exactly_one_is_not_within():
    z = [0.2] * 7 + [1.0] + [0.2] * 7
    assert fire(z, 7) == {}
    z = [0.2] * 7 + [-1.0] + [0.2] * 15
    assert fire(z, 7) == {22: run(8, 15)}


def test_rule7_continues_and_ignores_side():
    z = [0.99, -0.99] * 8 + [0.0]
    assert fire(z, 7) == {14: run(0, 15), 15: run(1, 15), 16: run(2, 15)}


# --- rule 8 -------------------------------------------------------------------------------


def test_rule8_eight_beyond_one_either_side():
    assert fire([1.5, -1.5] * 3 + [2.0], 8) == {}
    assert fire([1.5, -1.5] * 4, 8) == {7: run(0, 8)}


def test_rule8_exactly_one_breaks_and_continuation():
    z = [1.5] * 3 + [1.0] + [-1.5] * 9
    assert fire(z, 8) == {11: run(4, 8), 12: run(5, 8)}


def test_rule8_point_inside_breaks():
    assert fire([1.5] * 4 + [0.0] + [1.5] * 4, 8) == {}


# --- whole-series behaviour ------------------------------------------------------------------


def test_all_rules_sorted_by_index_then_rule():
    z = [0.5] * 8 + [3.5]  # rule 2 at 8 (9 above), rule 1 at 8, rule 3? no (ties)
    got = E.evaluate_rules(z)
    assert [(f.index, f.rule) for f in got] == sorted((f.index, f.rule) for f in got)
    assert (8, 1) in [(f.index, f.rule) for f in got] and (8, 2) in [(f.index, f.rule) for f in got]
    assert got == incremental(z)


def test_multiple_rules_at_one_point():
    z = [1.5, 2.5, 2.6, 2.7, 2.8, 3.2]
    got = E.evaluate_rules(z)
    at5 = [f.rule for f in got if f.index == 5]
    assert at5 == [1, 3, 5, 6]
    assert got == incremental(z)


def test_enable_disable_rules():
    z = [0.5] * 8 + [3.5]
    assert {f.rule for f in E.evaluate_rules(z, rules={1})} == {1}
    assert {f.rule for f in E.evaluate_rules(z, rules=[2])} == {2}
    assert E.evaluate_rules(z, rules=()) == []
    assert E.evaluate_rules(z, rules=None) == E.evaluate_rules(z)
    assert E.evaluate_rules(z, rules=1) == E.evaluate_rules(z, rules={1})


@pytest.mark.parametrize("bad", [0, 9, "1", 1.5, True, [1, 10]])
def test_unknown_rule(bad):
    with pytest.raises(E.ParameterError):
        E.evaluate_rules([0.0, 1.0], rules=bad if isinstance(bad, list) else [bad])


@pytest.mark.parametrize(
    ("value", "kind"), [(float("nan"), "NaN"), (float("inf"), "infinite"), (-np.inf, "infinite")]
)
def test_non_finite_z(value, kind):
    z = [0.0, 1.0, value]
    with pytest.raises(E.NonFiniteValueError, match=f"z-score 2 is {kind}") as exc:
        E.evaluate_rules(z)
    assert exc.value.index == 2
    with pytest.raises(E.NonFiniteValueError):
        E.evaluate_latest(z)
    win = E.RuleWindow()
    win.push(0.0)
    with pytest.raises(E.NonFiniteValueError, match="z-score 1"):
        win.push(value)
    assert win.next_index == 1  # a rejected value does not advance the window


def test_empty_series():
    assert E.evaluate_rules([]) == []
    assert E.evaluate_latest([]) == []
    assert all(v.size == 0 for v in E.evaluate_rules_arrays([]).values())


def test_arrays_form_and_lazy_points():
    z = [1.1, 1.1, 1.1, 0.0, 1.1, 0.5] + [0.5] * 10
    arrays = E.evaluate_rules_arrays(z)
    objects = E.evaluate_rules(z)
    for rule, idx in arrays.items():
        assert idx.tolist() == [f.index for f in objects if f.rule == rule]
    for f in objects:
        assert E.firing_points(f.rule, f.index, z) == f.points


def test_evaluate_latest_offset_and_long_window():
    z = [0.5] * 20
    got = E.evaluate_latest(z, rules={2}, offset=100)  # only the last 15 are used
    assert got == [RuleFiring(2, 119, run(111, 9))]
    assert E.evaluate_latest(z[-9:], rules={2}, offset=111) == got


def test_rule_window_restore_from_history():
    z = [0.5] * 8
    win = E.RuleWindow(rules={2}, history=z[:-1], next_index=57)
    assert win.next_index == 57
    assert win.push(z[-1]) == []  # only 8 points
    assert win.push(0.5) == [RuleFiring(2, 58, run(50, 9))]
    with pytest.raises(E.ParameterError):
        E.RuleWindow(history=[0.0, 0.0], next_index=1)


def test_description():
    assert "9 points" in RuleFiring(2, 8, run(0, 9)).description
