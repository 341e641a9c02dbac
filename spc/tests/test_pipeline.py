"""The one pipeline: validation, storage, rule evaluation and violations, in one transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone

from spc import limit_versions
from spc.models import ChartType, Measurement, Sample, SampleEdit, Violation
from spc.pipeline import BatchInvalid, record_sample, record_samples
from spc.sample_edits import correct, set_excluded
from spc.sample_input import SampleInvalid, SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)


def _values(ch, values, start=T0, step=timedelta(minutes=1)):
    return record_samples(ch, [SampleRequest(values=[v], timestamp=start + i * step)
                               for i, v in enumerate(values)])


def _established(chart_type=ChartType.IMR, center=10.0, sigma=1.0, **kw):
    ch = CharacteristicFactory(chart_type=chart_type, **kw)
    limit_versions.manual(ch, None, "known process", center=center, sigma=sigma,
                          effective_from=T0 - timedelta(days=1))
    return ch


def test_a_new_characteristic_accepts_its_very_first_sample():
    ch = CharacteristicFactory()
    recorded = record_sample(ch, SampleRequest(values=[10.2]))
    assert recorded.sample.pk and recorded.sample.mean == 10.2
    assert recorded.violations == []


def test_six_increasing_points_fire_rule_3_at_the_sixth_counting_the_newest_once():
    ch = _established()
    results = _values(ch, [9.0, 9.2, 9.4, 9.6, 9.8])
    assert all(not r.violations for r in results)
    sixth = record_sample(ch, SampleRequest(values=[10.0], timestamp=T0 + timedelta(minutes=5)))
    assert [(v.rule, len(v.points)) for v in sixth.violations] == [(3, 6)]
    assert sixth.violations[0].points[-1] == sixth.sample.pk
    ids = list(Sample.objects.filter(characteristic=ch).values_list("pk", flat=True))
    assert sixth.violations[0].points == ids


def test_one_by_one_and_as_a_batch_give_the_same_violations():
    values = [10, 13.5, 10, 9, 12.2, 12.4, 8, 8.2, 8.4, 8.6, 8.8, 9.0, 11, 11, 11]
    single, batch = _established(), _established()
    for i, v in enumerate(values):
        record_sample(single, SampleRequest(values=[v], timestamp=T0 + timedelta(minutes=i)))
    _values(batch, values)

    def summary(ch):
        # points as timestamps: the two characteristics' samples have different ids
        when = dict(Sample.objects.filter(characteristic=ch).values_list("pk", "timestamp"))
        return sorted((v.sample.timestamp, v.rule, tuple(when[p] for p in v.points))
                      for v in Violation.objects.filter(characteristic=ch))

    assert summary(single) == summary(batch)
    assert {rule for _, rule, _ in summary(single)} >= {1, 3, 5}


def test_trial_phase_judges_from_the_20th_subgroup_on():
    ch = CharacteristicFactory(trial_min_subgroups=20)
    base = [10.0, 10.5, 9.5, 10.2, 9.8] * 4  # 20 stable points
    results = _values(ch, base[:19] + [30.0])
    assert all(not r.violations for r in results[:19])
    assert sorted((v.chart, v.rule) for v in results[19].violations) == [
        ("primary", 1), ("secondary", 1)]  # the point and its moving range


def test_before_20_subgroups_the_trial_phase_raises_nothing():
    ch = CharacteristicFactory(trial_min_subgroups=20)
    results = _values(ch, [10, 10.5, 9.5, 10.2, 50.0])
    assert not any(r.violations for r in results)


def test_rule_settings_switch_rules_off_and_set_severity():
    ch = _established(rule_settings={"1": {"enabled": False}, "3": {"severity": "CRITICAL",
                                                                      "requires_ack": False}})
    results = _values(ch, [25.0, 9.0, 9.2, 9.4, 9.6, 9.8, 10.0])
    assert results[0].violations == []
    rule3 = results[-1].violations[0]
    assert (rule3.rule, rule3.severity, rule3.requires_ack) == (3, "CRITICAL", False)


def test_a_batch_with_one_bad_row_writes_nothing_and_names_the_row():
    ch = CharacteristicFactory()
    with pytest.raises(BatchInvalid) as caught:
        record_samples(ch, [SampleRequest(values=[1.0]), SampleRequest(values=["abc"]),
                            SampleRequest(values=[float("nan")])])
    assert set(caught.value.errors) == {1, 2}
    assert "not a number" in caught.value.errors[1]["values"][0]
    assert "finite" in caught.value.errors[2]["values"][0]
    assert not Sample.objects.exists() and not Measurement.objects.exists()


@pytest.mark.parametrize("request_, field, message", [
    (SampleRequest(values=[1.0, 2.0]), "values", "exactly 5 values"),
    (SampleRequest(values=[]), "values", "non-empty list"),
    (SampleRequest(values=[1, 2, 3, 4, float("inf")]), "values", "finite"),
    (SampleRequest(count=3, sample_size=5), "count", "send measured values"),
    (SampleRequest(values=[1, 2, 3, 4, 5], timestamp=timezone.now() + timedelta(days=2)),
     "timestamp", "in the future"),
])
def test_bad_variables_input_gets_a_field_error(request_, field, message):
    ch = CharacteristicFactory(chart_type=ChartType.XBAR_R, subgroup_size=5)
    with pytest.raises(SampleInvalid) as caught:
        record_sample(ch, request_)
    assert message in " ".join(caught.value.errors[field])
    assert not Sample.objects.exists()


@pytest.mark.parametrize("chart, request_, field, message", [
    (ChartType.P, SampleRequest(count=-1, sample_size=50), "count", "cannot be negative"),
    (ChartType.P, SampleRequest(count=51, sample_size=50), "count", "cannot exceed"),
    (ChartType.P, SampleRequest(count=1, sample_size=0), "sample_size", "at least 1"),
    (ChartType.P, SampleRequest(count="two", sample_size=50), "count", "whole number"),
    (ChartType.NP, SampleRequest(count=1, sample_size=40), "sample_size", "same sample size"),
    (ChartType.C, SampleRequest(values=[3]), "values", "send a count"),
])
def test_bad_attribute_input_gets_a_field_error(chart, request_, field, message):
    ch = CharacteristicFactory(chart_type=chart, subgroup_size=50)
    with pytest.raises(SampleInvalid) as caught:
        record_sample(ch, request_)
    assert message in " ".join(caught.value.errors[field])
    assert not Sample.objects.exists()


def test_a_given_timestamp_is_kept_for_historical_import():
    ch = CharacteristicFactory()
    then = timezone.now() - timedelta(days=400)
    assert record_sample(ch, SampleRequest(values=[1.0], timestamp=then)).sample.timestamp == then


def test_excluding_a_sample_re_evaluates_the_later_points():
    ch = _established()
    results = _values(ch, [9.0, 9.2, 9.4, 9.6, 9.8, 10.0])
    assert [v.rule for v in results[-1].violations] == [3]
    set_excluded(results[2].sample, True, "gauge dropped", None)
    # the run is broken: the rule-3 violation at the sixth point is superseded, not deleted
    old = Violation.objects.get(sample=results[-1].sample, rule=3)
    assert old.superseded_at is not None
    assert not Violation.objects.filter(superseded_at__isnull=True).exists()
    set_excluded(results[2].sample, False, "gauge was fine", None)
    live = Violation.objects.filter(superseded_at__isnull=True)
    assert [(v.rule, v.sample_id) for v in live] == [(3, results[-1].sample.pk)]
    assert list(SampleEdit.objects.values_list("kind", flat=True)) == ["EXCLUDE", "RESTORE"]


def test_correcting_a_value_keeps_before_and_after_and_re_judges():
    ch = _established()
    results = _values(ch, [10.0, 10.1])
    correct(results[0].sample, SampleRequest(values=[20.0]), "typo: 20 not 10", None)
    edit = SampleEdit.objects.get()
    assert (edit.before["values"], edit.after["values"]) == ([10.0], [20.0])
    assert Violation.objects.get(superseded_at__isnull=True, chart="primary").rule == 1
    with pytest.raises(SampleInvalid):
        correct(results[0].sample, SampleRequest(values=[21.0]), "  ", None)


def test_recalculation_removes_out_of_control_points_until_none_remain():
    ch = CharacteristicFactory()
    stable = [10.0, 10.4, 9.6, 10.2, 9.8, 10.1, 9.9, 10.3, 9.7, 10.0] * 3
    results = _values(ch, stable[:12] + [25.0] + stable[12:])
    version = limit_versions.recalculate(ch, None, "Phase I", exclude_ooc=True)
    assert version.removed_sample_ids == [results[12].sample.pk]
    assert version.sample_count == 30 and version.is_active and version.version == 1
    assert version.center == pytest.approx(10.0, abs=0.01)
    again = limit_versions.recalculate(ch, None, "same again", last_n=10)
    version.refresh_from_db()
    assert (version.is_active, again.is_active, again.version) == (False, True, 2)


def test_a_node_with_characteristics_cannot_be_deleted():
    from django.core.exceptions import ValidationError

    from plants.hierarchy import delete_node

    ch = CharacteristicFactory()
    with pytest.raises(ValidationError, match="still has characteristics; move or delete them"):
        delete_node(ch.node)
    assert ch.node.__class__.objects.filter(pk=ch.node_id).exists()


def test_hand_entered_limits_of_a_p_chart_take_only_the_center():
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=50)
    with pytest.raises(limit_versions.LimitsInvalid, match="give only the center"):
        limit_versions.manual(ch, None, "spec", center=0.1, ucl=0.2, lcl=0.0)
    with pytest.raises(limit_versions.LimitsInvalid, match="between 0 and 1"):
        limit_versions.manual(ch, None, "spec", center=1.5)
    version = limit_versions.manual(ch, None, "spec", center=0.1)
    assert version.ucl == pytest.approx(0.1 + 3 * (0.1 * 0.9 / 50) ** 0.5)
    assert version.sigma == pytest.approx((0.1 * 0.9) ** 0.5)  # σ of one unit, as when fitted
    assert version.options["entered"] == {"center": 0.1, "sigma": None, "ucl": None, "lcl": None}


def test_a_range_beyond_its_limits_raises_rule_1_on_the_secondary_chart():
    ch = _established(chart_type=ChartType.XBAR_R, subgroup_size=5, center=10.0, sigma=1.0)
    calm = record_sample(ch, SampleRequest(values=[10, 10.5, 9.5, 10.2, 9.8],
                                           timestamp=T0 + timedelta(minutes=1)))
    assert calm.violations == []
    # mean 10 (in control) but range 8 > D4·R̄ = 4.918·σ
    wide = record_sample(ch, SampleRequest(values=[6, 14, 10, 10, 10],
                                           timestamp=T0 + timedelta(minutes=2)))
    assert [(v.rule, v.chart) for v in wide.violations] == [(1, "secondary")]


def test_a_jump_raises_rule_1_on_the_moving_range_chart():
    ch = _established()
    # the MR chart's UCL is D4(2)·d2(2)·σ = 3.686 here: a moving range of 3.3 stays inside
    results = _values(ch, [10.0, 10.5, 7.2])
    assert all(v.chart == "primary" for r in results for v in r.violations)
    jump = _values(ch, [13.5], start=T0 + timedelta(minutes=3))[0]  # moving range 6.3
    assert ("secondary", 1) in [(v.chart, v.rule) for v in jump.violations]


def test_a_sample_inserted_back_in_time_re_judges_the_points_after_it():
    ch = _established()
    # 9.0 9.2 _ 9.6 9.8 10.0: the gap breaks the run; filling it makes six increasing points
    first = _values(ch, [9.0, 9.2])
    later = _values(ch, [9.6, 9.8, 10.0], start=T0 + timedelta(minutes=3))
    assert not any(r.violations for r in first + later)
    record_sample(ch, SampleRequest(values=[9.4], timestamp=T0 + timedelta(minutes=2, seconds=30)))
    live = Violation.objects.filter(superseded_at__isnull=True)
    assert [(v.rule, v.sample_id) for v in live] == [(3, later[-1].sample.pk)]
